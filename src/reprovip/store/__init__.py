"""The study store: a catalog (SQLAlchemy Core) and a content-addressed blob folder, with a run lock."""

from reprovip.store.blobs import BlobStore
from reprovip.store.catalog import Catalog
from reprovip.store.lock import RunLock

__all__ = ["BlobStore", "Catalog", "RunLock"]
