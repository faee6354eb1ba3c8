"""Typed parameters: each stage's ``params:<name>`` parsed into a dataclass whose defaults are the only defaults.

``from_params`` rejects unknown keys (a typo in YAML is an error naming the
known keys, not a silently ignored setting) and converts YAML values to the
field types. Workers receive the parsed values in their job spec and define
no defaults of their own.
"""

from __future__ import annotations

import dataclasses
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
    values: dict[str, Any] = {}
    for name, value in params.items():
        kind = hints[name]
        if value is not None and kind in (int, float, bool, str):
            value = kind(value)
        elif value is not None and typing.get_origin(kind) is tuple:
            value = tuple([value] if isinstance(value, str) else value)
        values[name] = value
    return cls(**values)


def as_dict(params) -> dict:
    """A parsed parameter dataclass as a JSON-able dict (tuples as lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(params).items()}
