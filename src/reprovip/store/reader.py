"""Read a SQLite catalog with the standard library's ``sqlite3``: ``reprovip status`` without SQLAlchemy.

:class:`SQLiteReader` answers the few :class:`~reprovip.store.catalog.Catalog` methods that ``status`` calls,
running the same SQL text (:mod:`reprovip.store.sql`). It reads only a catalog at this code's schema revision
(:data:`~reprovip.store.migrations.HEAD`): :meth:`SQLiteReader.open` returns None for any other (missing, new,
older, newer, migrated by hand), and the caller then opens a :class:`~reprovip.store.catalog.Catalog`, which
migrates or refuses it with its usual error.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from reprovip.errors import StoreError
from reprovip.store import sql
from reprovip.store.migrations import HEAD, VERSION_TABLE


class SQLiteReader(sql.Reads):
    """Read-only access to a SQLite catalog at revision :data:`~reprovip.store.migrations.HEAD`.

    Parameters
    ----------
    conn : sqlite3.Connection
        A read-only connection (see :meth:`open`).
    """

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self._path = path

    @classmethod
    def open(cls, path: Path) -> SQLiteReader | None:
        """A reader of the catalog file ``path``, or None when it is missing or not at this code's revision."""
        if not Path(path).is_file():
            return None
        # mode=ro: nothing can be written, and a missing file is not created. The busy timeout waits for a
        # runner's checkpoint as the catalog's own connections do.
        conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            revisions = [r[0] for r in conn.execute(f"SELECT version_num FROM {VERSION_TABLE}")]
        except sqlite3.DatabaseError:  # no version table (a catalog from before migrations), or not SQLite
            revisions = []
        if revisions != [HEAD]:
            conn.close()
            return None
        conn.row_factory = sqlite3.Row
        return cls(conn, Path(path))

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def _rows(self, query: sql.Query, **params: Any) -> list[dict[str, Any]]:
        try:
            rows = [dict(r) for r in self._conn.execute(query.sql, params)]
        except sqlite3.Error as exc:  # locked beyond the timeout, a damaged file: the catalog's own one-line error
            raise StoreError(f"{self._path}: cannot read the catalog ({exc}); retry, or check the file") from exc
        for r in rows:
            for c in query.json:
                r[c] = json.loads(r[c]) if r[c] is not None else None
            for c in query.flags:
                r[c] = bool(r[c]) if r[c] is not None else None
        return rows
