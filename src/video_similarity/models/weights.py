"""The one loader for local weight files, whatever encoder they fill.

Machines here have no network, so every pretrained encoder is filled from a
file copied in beforehand. Published checkpoints come in a few layouts: a plain
state dict (torchvision's ``resnet50-0676ba61.pth``), a dict holding it under
``state_dict`` (Lightning, many research repos), ``model_state`` (PyTorchVideo
``.pyth`` files) or ``model`` (this project's
:func:`~video_similarity.models.descriptor.save_checkpoint`), with or without
the ``module.`` prefix that DistributedDataParallel adds. One loader accepts
all of them, so the registry and the workers never branch on where a file came
from. Layouts that differ from the module tree (3D-CSL's nested prefixes, a
position embedding for another grid) are a builder's ``remap`` hook, not a
loader of their own.

The loader checks key names and shapes itself before loading: a half-loaded
encoder produces plausible-looking but meaningless embeddings, so anything that
does not fit raises a :class:`WeightsFileError` (a ``ValueError``) naming the
file and a few offending keys. The encoders drop the classification heads
(``fc.*``, ``blocks.5.proj.*``); the caller lists such prefixes in
``ignore_prefixes`` so they are skipped instead of reported as unexpected.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import torch
from torch import nn

# Keys under which checkpoints nest the state dict, in the order they are tried.
NESTED_KEYS: tuple[str, ...] = ("state_dict", "model_state", "model")

# Prefixes wrappers add to every key: DistributedDataParallel, torch.compile.
WRAPPER_PREFIXES: tuple[str, ...] = ("module.", "_orig_mod.")

# Counters that checkpoints written before PyTorch 0.4.1 lack; BatchNorm fills them.
_OPTIONAL_SUFFIXES: tuple[str, ...] = ("num_batches_tracked",)


class WeightsFileError(ValueError):
    """A weights file that cannot be read or does not fit the model; the message names it."""


def _sample(keys: list[str], n: int = 5) -> str:
    return ", ".join(keys[:n]) + (f", ... ({len(keys)} in all)" if len(keys) > n else "")


def read_state_dict(path: str | Path, weights_only: bool = True) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint file, unwrapped from the common layouts (see module doc).

    ``weights_only=True`` (the default) never runs pickled code; pass False
    only for a trusted file whose pickle holds other Python objects.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=weights_only)
    except pickle.UnpicklingError as err:
        hint = " (if the file is trusted, retry with weights_only=False)" if weights_only else ""
        raise WeightsFileError(f"{path}: cannot be read as a weights file{hint}: {err}") from err
    except Exception as err:  # torch raises several types for foreign files
        raise WeightsFileError(
            f"{path}: not a readable PyTorch weights file ({type(err).__name__}: {err})"
        ) from err
    for _ in range(len(NESTED_KEYS)):  # e.g. {"model": {"state_dict": ...}}
        if not isinstance(obj, Mapping):
            break
        nested = next(
            (obj[k] for k in NESTED_KEYS if isinstance(obj.get(k), Mapping)), None
        )
        if nested is None:
            break
        obj = nested
    if not isinstance(obj, Mapping) or not obj:
        raise WeightsFileError(
            f"{path}: expected a state dict (name -> tensor) or a dict with one under "
            f"{', '.join(repr(k) for k in NESTED_KEYS)}; got {type(obj).__name__}"
        )
    state = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not state or not all(isinstance(k, str) for k in state):
        raise WeightsFileError(f"{path}: holds no named tensors (keys: {_sample(sorted(map(str, obj)))})")
    for prefix in WRAPPER_PREFIXES:
        if all(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
    return state


Remap = Callable[[dict[str, torch.Tensor], nn.Module], dict[str, torch.Tensor]]


def load_state_dict_file(
    model: nn.Module,
    path: str | Path,
    strict: bool = True,
    ignore_prefixes: Iterable[str] = (),
    weights_only: bool = True,
    remap: Remap | None = None,
) -> nn.Module:
    """Load a local checkpoint into ``model`` (in place) and return ``model``.

    ``remap(state, model)`` is the per-builder hook for published layouts
    that differ from the module tree (renamed prefixes, embeddings resized to
    the model); it runs after unwrapping and may raise ValueError, reported
    with the file's name. Keys starting with any of ``ignore_prefixes`` (heads
    the encoder drops) are skipped on both sides. With ``strict=True`` every
    remaining model key must be in the file and every file key in the model;
    ``num_batches_tracked`` counters may be missing (old checkpoints). Shapes
    must always match. Raises FileNotFoundError for a missing file and
    :class:`WeightsFileError` (naming the file, the missing / unexpected /
    mismatched counts and a few keys of each) for anything that does not fit.
    """
    path = Path(path)
    prefixes = tuple(ignore_prefixes)

    def kept(key: str) -> bool:
        return not (prefixes and key.startswith(prefixes))

    state = read_state_dict(path, weights_only=weights_only)
    if remap is not None:
        try:
            state = remap(state, model)
        except ValueError as err:
            raise WeightsFileError(f"{path}: {err}") from err
    state = {k: v for k, v in state.items() if kept(k)}
    expected = {k: v for k, v in model.state_dict().items() if kept(k)}

    missing = sorted(k for k in set(expected) - set(state) if not k.endswith(_OPTIONAL_SUFFIXES))
    unexpected = sorted(set(state) - set(expected))
    mismatched = sorted(k for k in set(state) & set(expected) if tuple(state[k].shape) != tuple(expected[k].shape))
    if not strict:
        missing, unexpected = [], []
    if missing or unexpected or mismatched:
        counts = f"{len(missing)} missing, {len(unexpected)} unexpected, {len(mismatched)} shape mismatches"
        details = []
        if missing:
            details.append(f"missing: {_sample(missing)}")
        if unexpected:
            details.append(f"unexpected: {_sample(unexpected)}")
        if mismatched:
            details.append("shape mismatch: " + _sample([f"{k} {tuple(state[k].shape)} vs {tuple(expected[k].shape)}" for k in mismatched]))
        raise WeightsFileError(f"{path}: weights do not fit {type(model).__name__} ({counts}); " + "; ".join(details))
    if not set(state) & set(expected):
        raise WeightsFileError(f"{path}: no key fits {type(model).__name__} (keys: {_sample(sorted(state))})")
    # Checked above; strict=False here only tolerates the optional counters.
    model.load_state_dict({k: v for k, v in state.items() if k in expected}, strict=False)
    return model
