"""Nested dictionaries as flat ``a.b.c`` keys (provenance records, documents)."""

from __future__ import annotations

from typing import Any


def flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    """Flatten nested dicts into dotted keys; other values (lists included) are leaves.

    Examples
    --------
    >>> flatten({"cpu": {"model": "x", "count": 2}, "os": "Linux"})
    {'cpu.model': 'x', 'cpu.count': 2, 'os': 'Linux'}
    """
    if isinstance(d, dict):
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: d}
