"""What a model costs: parameters, multiply-accumulates of one forward pass, CPU latency (the action report, the bench)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn


def count_parameters(model: nn.Module) -> int:
    """Number of parameters (trainable or not; BN running statistics are buffers and not counted)."""
    return sum(p.numel() for p in model.parameters())


def measure_cpu_latency(model, input_shape: tuple[int, ...], runs: int, threads: int | None) -> tuple[float, int]:
    """Median milliseconds of one forward pass on the CPU (3 warm-up passes first), and the threads used."""
    import statistics
    import time

    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(int(threads))
    try:
        model = model.cpu().eval()
        x = torch.rand(1, *input_shape)
        times = []
        with torch.no_grad():
            for i in range(3 + max(1, runs)):
                started = time.perf_counter()
                model(x)
                if i >= 3:
                    times.append((time.perf_counter() - started) * 1000)
        return float(statistics.median(times)), torch.get_num_threads()
    finally:
        torch.set_num_threads(previous)


def multiply_accumulates(model: nn.Module, input_shape: Sequence[int]) -> int:
    """Multiply-accumulates of one forward pass on an input of ``input_shape`` (batch included; a
    4-tuple (C, T, H, W) means batch 1), counted by forward hooks on Conv3d / Conv2d / Linear.

    Conv: output elements x kernel volume x in_channels / groups; Linear: in x out per row.
    Poolings, BN, activations and gating products are not counted. The pass runs on a copy
    of the model on the ``meta`` device (shapes only, no arithmetic), falling back to a real
    forward in eval mode for models with ops the meta device lacks.
    """
    shape = tuple(int(n) for n in input_shape)
    if len(shape) == 4:
        shape = (1,) + shape
    total = 0

    def conv_hook(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
        nonlocal total
        total += output.numel() * math.prod(module.kernel_size) * (module.in_channels // module.groups)

    def linear_hook(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
        nonlocal total
        total += output.numel() * module.in_features

    def run(net: nn.Module, device: torch.device, dtype: torch.dtype) -> None:
        handles = []
        for m in net.modules():
            if isinstance(m, (nn.Conv3d, nn.Conv2d)):
                handles.append(m.register_forward_hook(conv_hook))
            elif isinstance(m, nn.Linear):
                handles.append(m.register_forward_hook(linear_hook))
        was_training = net.training
        net.eval()
        try:
            with torch.no_grad():
                net(torch.zeros(shape, device=device, dtype=dtype))
        finally:
            for h in handles:
                h.remove()
            net.train(was_training)

    first = next(model.parameters(), None)
    dtype = first.dtype if first is not None and first.is_floating_point() else torch.float32
    try:
        import copy

        run(copy.deepcopy(model).to("meta"), torch.device("meta"), dtype)
    except (NotImplementedError, RuntimeError):
        total = 0
        run(model, first.device if first is not None else torch.device("cpu"), dtype)
    return int(total)
