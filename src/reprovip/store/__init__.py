"""The study store: a catalog (SQLAlchemy Core) and a content-addressed blob folder, with a run lock."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reprovip.store.blobs import BlobStore
from reprovip.store.lock import RunLock

if TYPE_CHECKING:
    from reprovip.store.catalog import Catalog

__all__ = ["BlobStore", "Catalog", "RunLock"]


def __getattr__(name: str) -> Any:
    # Workers import the blob store only: they must not pay for SQLAlchemy.
    if name == "Catalog":
        from reprovip.store.catalog import Catalog

        return Catalog
    raise AttributeError(f"module 'reprovip.store' has no attribute {name!r}")
