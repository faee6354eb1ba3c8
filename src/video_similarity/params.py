"""Typed parameters: each stage's ``params:<name>`` parsed into a dataclass whose defaults are the only defaults.

``from_params`` rejects unknown keys (a typo in YAML is an error naming the
known keys, not a silently ignored setting) and converts YAML values to the
field types, nested sections (a field typed as a dataclass, or a dict or list
of them) included. Workers receive the parsed values in their job spec and define
no defaults of their own. ``params:launch`` (:class:`LaunchConfig`), which every
GPU-heavy node reads, is here too.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, TypeVar

T = TypeVar("T")


def parse(cls: type[T], params: dict | None, section: str) -> T:
    """``params`` (a YAML mapping, or None for all defaults) as ``cls``; unknown keys raise ValueError."""
    params = dict(params or {})
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(params) - set(names))
    if unknown:
        raise ValueError(f"{section}: unknown key(s) {unknown}; known: {', '.join(names)}")
    hints = typing.get_type_hints(cls)
    values = {name: _convert(value, hints[name], f"{section}.{name}") for name, value in params.items()}
    try:
        return cls(**values)
    except (TypeError, ValueError) as error:  # a required field missing, or the class's own checks (__post_init__)
        raise ValueError(f"{section}: {error}") from None


_TRUE, _FALSE = {"true", "yes", "on", "1"}, {"false", "no", "off", "0"}


def _convert(value: Any, kind: Any, name: str) -> Any:
    """A YAML (or ``--params`` string) value as the field's type; a single name given for a list is a list of one."""
    if value is None:
        return None
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    if typing.get_origin(kind) in (typing.Union, types.UnionType) and len(args) == 1:
        kind = args[0]  # Optional[X] -> X
    origin = typing.get_origin(kind) or kind
    if kind is bool and isinstance(value, str):
        if value.strip().lower() not in _TRUE | _FALSE:
            raise ValueError(f"{name}: {value!r} is not a boolean (true or false)")
        return value.strip().lower() in _TRUE
    if kind in (int, float, bool, str):
        try:
            return kind(value)
        except (TypeError, ValueError):
            article = "an" if kind is int else "a"
            raise ValueError(f"{name}: {value!r} is not {article} {kind.__name__}") from None
    if dataclasses.is_dataclass(kind):
        if isinstance(value, kind):
            return value
        if not isinstance(value, dict):
            raise ValueError(f"{name}: expected a mapping of {', '.join(f.name for f in dataclasses.fields(kind))}, got {value!r}")
        return parse(kind, value, name)
    if origin is dict:
        if not isinstance(value, dict):
            raise ValueError(f"{name}: expected a mapping, got {value!r}")
        item = typing.get_args(kind)[1] if typing.get_args(kind) else Any
        return {key: _convert(v, item, f"{name}.{key}") if item is not Any else v for key, v in value.items()}
    if origin in (list, tuple):
        items = [value] if isinstance(value, str) else list(value)
        args = typing.get_args(kind)
        if origin is tuple and args and args[-1] is not Ellipsis:  # a fixed-length tuple: one type per position
            if len(args) != len(items):
                raise ValueError(f"{name}: expected {len(args)} values, got {value!r}")
            items = [_convert(v, a, f"{name}[{i}]") for i, (v, a) in enumerate(zip(items, args))]
        elif args and args[0] is not Any:  # list[X] or tuple[X, ...], nested sections included
            items = [_convert(v, args[0], f"{name}[{i}]") for i, v in enumerate(items)]
        return tuple(items) if origin is tuple else items
    return value


def as_dict(params) -> dict:
    """A parsed parameter dataclass as a JSON-able dict (tuples as lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(params).items()}


@dataclasses.dataclass(frozen=True)
class LaunchConfig:
    """``params:launch``: how many processes, where they meet, what they compute on."""

    nproc_per_node: int = 1
    nnodes: int = 1
    rdzv_endpoint: str | None = None  # host:port of node 0; None on a single node (standalone)
    rdzv_id: str = "video_similarity"
    max_restarts: int = 0
    backend: str = "auto"  # auto: nccl when CUDA is used, else gloo
    device: str = "auto"  # auto: cuda when available, else cpu
    threads_per_process: int | None = None  # OMP/torch threads per worker; None: cores / nproc
    in_process: bool = False  # one process on this host, run inside the caller (no start-up per job: interactive commands)

    def __post_init__(self) -> None:
        if self.nproc_per_node < 1 or self.nnodes < 1:
            raise ValueError("nproc_per_node and nnodes must be >= 1")
        if self.nnodes > 1 and not self.rdzv_endpoint:
            raise ValueError("rdzv_endpoint (host:port of node 0) is needed when nnodes > 1")
        if self.in_process and (self.nproc_per_node > 1 or self.nnodes > 1):
            raise ValueError("in_process runs one process: it needs nproc_per_node 1 and nnodes 1")

    @classmethod
    def from_params(cls, params: dict | None) -> "LaunchConfig":
        return parse(cls, params, "launch")


SEARCH_KINDS = ("exact", "ivf", "hnsw", "auto")


@dataclasses.dataclass(frozen=True)
class SearchIndexParams:
    """``params:search_index``: the index every candidate search goes through (search_index.py).

    ``exact`` is the evaluator's search; ``ivf`` and ``hnsw`` are approximate and much faster at
    VSC sizes; ``auto`` is exact below ``auto_min_rows`` indexed rows and IVF from there on.
    """

    kind: str = "exact"  # exact | ivf | hnsw | auto
    auto_min_rows: int = 200000  # auto: indexed rows from which IVF replaces the exact search
    nlist: int | None = None  # IVF lists; None: 2 sqrt(rows) rounded to a power of two (1024 at 200K rows, 2048 at VSC's 1.26M)
    nprobe: int = 8  # IVF lists visited per query row
    train_rows: int | None = None  # IVF: reference rows sampled to train the lists; None: 40 per list
    train_iterations: int = 10  # IVF: k-means iterations
    hnsw_m: int = 32  # HNSW: links per node
    ef_construction: int = 80  # HNSW: candidates kept while building
    ef_search: int = 256  # HNSW: candidates kept while searching
    chunk_rows: int = 262144  # rows added (and query rows searched) per chunk: bounds the temporaries
    seed: int = 0  # the training sample's

    def __post_init__(self) -> None:
        if self.kind not in SEARCH_KINDS:
            raise ValueError(f"kind {self.kind!r} is not one of {', '.join(SEARCH_KINDS)}")
        for name in ("auto_min_rows", "nprobe", "train_iterations", "hnsw_m", "ef_construction", "ef_search", "chunk_rows"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.nlist is not None and self.nlist < 1:
            raise ValueError(f"nlist must be >= 1 or null, got {self.nlist}")

    @classmethod
    def from_params(cls, params: dict | None) -> "SearchIndexParams":
        return parse(cls, params, "search_index")
