"""Encoders that are files: a TorchScript module or an ONNX model, with the input convention they expect.

The project's encoder contract takes RGB floats in [0, 1], (B, 3, H, W). A file
made elsewhere expects its own input: SSCD's official TorchScript files take
ImageNet-normalised float NCHW, an ONNX export may take uint8 NHWC with the
normalisation built in. :class:`InputConvention` (from config) states what the
file wants; the encoder converts, runs the file and L2-normalises the rows, so
callers never see the difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

#: torchvision's ImageNet normalisation, the input convention of most published image models (kept here, not in
#: models/descriptor.py, so that file encoders load without torchvision: a second of imports at every start).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

LAYOUTS = ("NCHW", "NHWC")
DTYPES = ("float32", "float16", "uint8")


@dataclass(frozen=True)
class InputConvention:
    """What a model file takes. ``value_range``: what [0, 1] maps to before ``mean`` / ``std`` (in those units)."""

    layout: str = "NCHW"
    dtype: str = "float32"
    value_range: tuple[float, float] = (0.0, 1.0)
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    input_size: int | None = None  # frames resized to a square of this side
    short_side: int | None = None  # or: resized so that the shorter side has this many pixels
    normalized_output: bool = False  # the file's rows are unit-norm already: passed through as they are

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS or self.dtype not in DTYPES:
            raise ValueError(f"layout must be one of {LAYOUTS} and dtype one of {DTYPES}, got {self.layout!r}, {self.dtype!r}")
        if self.input_size and self.short_side:
            raise ValueError("give input_size or short_side, not both")
        if (self.mean is None) != (self.std is None):
            raise ValueError("mean and std go together")

    @classmethod
    def from_params(cls, params: dict | None, owner: str = "input") -> "InputConvention":
        from video_similarity.params import parse

        return parse(cls, params, owner)

    def apply(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) floats in [0, 1] -> the tensor the file takes."""
        low, high = self.value_range
        x = images * (high - low) + low if (low, high) != (0.0, 1.0) else images
        if self.mean is not None:
            x = (x - x.new_tensor(self.mean).view(1, 3, 1, 1)) / x.new_tensor(self.std).view(1, 3, 1, 1)
        if self.layout == "NHWC":
            x = x.permute(0, 2, 3, 1)
        if self.dtype == "uint8":
            return x.round().clamp(0, 255).to(torch.uint8).contiguous()
        return x.to(getattr(torch, self.dtype)).contiguous()


    def finish(self, rows: torch.Tensor) -> torch.Tensor:
        """The file's output rows -> unit rows (the encoder contract)."""
        return rows if self.normalized_output else F.normalize(rows, p=2.0, dim=-1)


class _FileEncoder(nn.Module):
    """The contract's attributes for a file-backed frame encoder; ``dim`` is read off one probe frame."""

    kind = "frames"

    def __init__(self, path: str | Path, convention: InputConvention):
        super().__init__()
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"model file not found: {self.path}")
        self.convention = convention
        self.input_size = convention.input_size
        self.short_side = convention.short_side

    def _probe_dim(self) -> int:
        side = self.input_size or self.short_side or 224
        with torch.no_grad():
            return int(self(torch.zeros(1, 3, side, side)).shape[1])


class TorchScriptEncoder(_FileEncoder):
    """A TorchScript file as an encoder (the descriptor ensemble's exports, SSCD's official releases)."""

    def __init__(self, path: str | Path, convention: InputConvention):
        from video_similarity.models.checkpoint import load_torchscript

        super().__init__(path, convention)
        self.module = load_torchscript(self.path)
        self.dim = self._probe_dim()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.convention.finish(self.module(self.convention.apply(images)).float())


class OnnxEncoder(_FileEncoder):
    """An ONNX file run with onnxruntime: CPU by default, CUDA when the device is cuda and onnxruntime-gpu is there."""

    def __init__(self, path: str | Path, convention: InputConvention, device: str = "cpu", threads: int | None = None):
        try:
            import onnxruntime as ort
        except ImportError as err:  # pinned in pyproject; a broken install still gets a clear message
            raise ImportError("onnxruntime is needed for ONNX encoders: pip install onnxruntime") from err
        super().__init__(path, convention)
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads or torch.get_num_threads())
        options.log_severity_level = 3
        providers = ["CPUExecutionProvider"]
        if str(device).startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=providers)
        except Exception as err:  # onnxruntime raises its own types for foreign files
            raise ValueError(f"{self.path}: not a loadable ONNX model ({type(err).__name__}: {err})") from err
        self.input_name = self.session.get_inputs()[0].name
        self.dim = self._probe_dim()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        feed = self.convention.apply(images.cpu()).numpy()
        (out,) = self.session.run([self.session.get_outputs()[0].name], {self.input_name: feed})[:1]
        rows = torch.from_numpy(np.asarray(out, dtype=np.float32).reshape(len(feed), -1))
        return self.convention.finish(rows).to(images.device)


def torchscript_encoder(weights_path: str | Path | None = None, input: dict | None = None) -> TorchScriptEncoder:
    """Registry builder: ``weights_path`` is the TorchScript file; ``input`` its :class:`InputConvention`."""
    if weights_path is None:
        raise ValueError("a torchscript encoder needs its file: name it as the encoder's weights")
    return TorchScriptEncoder(weights_path, InputConvention.from_params(input, "torchscript input"))


def onnx_encoder(weights_path: str | Path | None = None, input: dict | None = None, device: str = "cpu", threads: int | None = None) -> OnnxEncoder:
    """Registry builder: ``weights_path`` is the ONNX file; ``input`` its :class:`InputConvention`."""
    if weights_path is None:
        raise ValueError("an onnx encoder needs its file: name it as the encoder's weights")
    return OnnxEncoder(weights_path, InputConvention.from_params(input, "onnx input"), device=device, threads=threads)
