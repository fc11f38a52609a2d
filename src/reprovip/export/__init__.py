"""Export a study's provenance in formats other tools read: a Provenance Run Crate (:mod:`.rocrate`).

Exporters read the spec, the catalog and the blob store; they never write to the store. ``docs/export.md``
describes what each format holds.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["export_rocrate"]


def __getattr__(name: str) -> Any:
    # Imported on first use: the rocrate library is needed by `reprovip export` only.
    if name == "export_rocrate":
        return importlib.import_module("reprovip.export.rocrate").export_rocrate
    raise AttributeError(f"module 'reprovip.export' has no attribute {name!r}")
