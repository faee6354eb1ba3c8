"""Worker-side distributed setup: the environment torchrun provides -> a process group.

Workers read LOCAL_RANK / RANK / WORLD_SIZE, pick nccl on CUDA and gloo on CPU,
shard videos by rank, and let rank 0 merge.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class WorkerContext:
    rank: int
    local_rank: int
    world_size: int
    device: str  # "cpu" or "cuda:N"

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def choose_device(requested: str, local_rank: int) -> str:
    import torch

    if requested == "cpu" or (requested == "auto" and not torch.cuda.is_available()):
        return "cpu"
    if not torch.cuda.is_available():
        raise RuntimeError("launch.device is 'cuda' but CUDA is not available on this host")
    return f"cuda:{local_rank}"


def init_worker(backend: str | None = None, device: str | None = None, timeout: timedelta | None = None) -> WorkerContext:
    """Join the process group torchrun set up (or run alone when there is none).

    ``timeout`` bounds each collective (torch's default: 30 minutes for gloo): a worker whose ranks finish
    their shares hours apart waits longer at its last barrier.
    """
    import torch
    import torch.distributed as dist

    rank = int(os.environ.get("RANK", 0))
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    world_size = int(os.environ.get("WORLD_SIZE", 1))
    device = choose_device(device or os.environ.get("VIDEO_SIMILARITY_DEVICE", "auto"), local_rank)
    backend = backend or os.environ.get("VIDEO_SIMILARITY_BACKEND", "auto")
    if backend == "auto":
        backend = "nccl" if device.startswith("cuda") else "gloo"
    if device.startswith("cuda"):
        torch.cuda.set_device(local_rank)
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend=backend, timeout=timeout)
    return WorkerContext(rank, local_rank, world_size, device)


def shard(items: Sequence[T], context: WorkerContext) -> list[T]:
    """This rank's share of ``items`` (round robin, so long and short videos mix)."""
    return list(items[context.rank :: context.world_size])


def barrier(context: WorkerContext) -> None:
    import torch.distributed as dist

    if context.world_size > 1 and dist.is_initialized():
        dist.barrier()


def finish(context: WorkerContext) -> None:
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()
