"""The study store: a catalog (SQLAlchemy Core) and a content-addressed blob folder, with a run lock."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reprovip.store.blobs import BlobStore
    from reprovip.store.catalog import Catalog
    from reprovip.store.lock import RunLock

__all__ = ["STORE_DIR", "BlobStore", "Catalog", "RunLock"]

STORE_DIR = ".reprovip"  # a study's store, beside its study file

# Imported on first use: workers need the blob store only (not SQLAlchemy), `reprovip status` the catalog only.
_MODULES = {"BlobStore": "blobs", "Catalog": "catalog", "RunLock": "lock"}


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return getattr(importlib.import_module(f"reprovip.store.{_MODULES[name]}"), name)
    raise AttributeError(f"module 'reprovip.store' has no attribute {name!r}")
