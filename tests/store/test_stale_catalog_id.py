"""A catalog's identity (``meta.catalog_id``): made with the catalog, kept by it, given to a catalog made by an
older reprovip when it is next opened for writing; a catalog deleted and made again has another one, so an
analysis of the old one is seen as stale (tests/cli/test_stale_views.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from reprovip.store import Catalog


def test_a_catalog_keeps_its_identity_and_a_new_one_has_another(tmp_path: Path) -> None:
    first = Catalog.for_store(tmp_path).catalog_id()
    assert first and len(first) == 32
    assert Catalog.for_store(tmp_path).catalog_id() == first
    assert Catalog.for_store(tmp_path, read_only=True).catalog_id() == first
    for p in tmp_path.glob("catalog.sqlite*"):
        p.unlink()
    assert Catalog.for_store(tmp_path).catalog_id() not in (None, first)


def test_an_older_catalog_gets_one_when_opened_for_writing(tmp_path: Path) -> None:
    Catalog.for_store(tmp_path).close()
    with sqlite3.connect(tmp_path / "catalog.sqlite") as conn:
        conn.execute("DELETE FROM meta WHERE key = 'catalog_id'")
    assert Catalog.for_store(tmp_path, read_only=True).catalog_id() is None  # a reader writes nothing
    given = Catalog.for_store(tmp_path).catalog_id()
    assert given and Catalog.for_store(tmp_path).catalog_id() == given
