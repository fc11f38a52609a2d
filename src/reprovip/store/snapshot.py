"""Reading a store that cannot be written: a private copy of its SQLite catalog (no SQLAlchemy here: ``status``
imports this module and must start at once)."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path


def readable_folder(root: Path) -> Path:
    """Where to read the SQLite catalog of store ``root`` from: ``root`` itself, or a private copy of the catalog
    and its write-ahead log when ``root`` cannot be written (a read-only disk or mount, another user's study).

    SQLite cannot open a WAL database where it cannot create its shared-memory file (the report crashed on a
    read-only store: a review), and ``immutable=1`` would ignore what a killed runner left in the WAL. The copy
    is removed when the process exits.
    """
    root = Path(root)
    if not root.is_dir() or os.access(root, os.W_OK):
        return root
    copy = Path(tempfile.mkdtemp(prefix="reprovip-catalog-"))
    atexit.register(shutil.rmtree, copy, True)
    for name in ("catalog.sqlite", "catalog.sqlite-wal"):
        if (root / name).exists():
            shutil.copyfile(root / name, copy / name)
    return copy
