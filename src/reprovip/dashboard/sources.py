"""What the dashboard serves: catalogs opened read-only, each with a per-query time limit.

A source is what the user named on the command line: a ``study.yaml``, a study folder, a ``.reprovip``
store, a ``catalog.sqlite`` file, a database URL, or a folder holding study folders (searched two levels
deep). Studies are addressed as ``<source>-<study id>``.
"""

from __future__ import annotations

import math
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from reprovip.errors import NotFoundError, StoreError
from reprovip.store import STORE_DIR, Catalog
from reprovip.store import schema as s

KEY = re.compile(r"^(\d{1,6})-(\d{1,12})$")


def _identity(path: Path) -> tuple[int, int] | None:
    """Which file ``path`` is (device, inode), or None when there is none."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


@dataclass
class Source:
    """One catalog and, for a study store, the folder holding its blobs and voxel maps.

    A store's ``catalog.sqlite`` deleted and made again while the dashboard serves (``rm -rf .reprovip`` and
    ``reprovip run``) is another file: SQLite would keep reading the deleted one through its open connections,
    and the dashboard showed the old green verdict beside the new catalog's red one (a review). Every use of
    :attr:`engine` checks which file the path names (one ``stat``) and opens the new one; :attr:`generation`
    counts the reopenings, for caches keyed by analysis id (the new catalog numbers its analyses anew).
    """

    index: int
    label: str
    catalog: Catalog
    store: Path | None = None
    query_timeout: float = 2.0
    generation: int = 0
    _stores: dict[int, Path | None] = field(default_factory=dict)
    _file: tuple[int, int] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if self.store is not None:
            self._file = _identity(self.store / "catalog.sqlite")

    @property
    def engine(self) -> Engine:
        """The read-only engine (of the file the store's ``catalog.sqlite`` names now).

        Raises
        ------
        StoreError
            The catalog file was deleted, or what replaced it is not a readable catalog.
        """
        if self.store is not None:
            now = _identity(self.store / "catalog.sqlite")
            if now != self._file:
                self._reopen(now)
        return self.catalog.engine

    def _reopen(self, now: tuple[int, int] | None) -> None:
        with self._lock:
            if now == self._file:
                return  # another request reopened it
            if now is None:
                raise StoreError(
                    f"{self.label}: its catalog.sqlite was deleted while the dashboard served it; run "
                    "`reprovip run` again, or restart `reprovip serve`"
                )
            catalog = Catalog.for_store(self.store, read_only=True)  # type: ignore[arg-type]
            limit_queries(catalog.engine, self.query_timeout)
            _check(catalog, self.label)
            old, self.catalog = self.catalog, catalog
            self._file, self.generation = now, self.generation + 1
            self._stores.clear()
            old.close()

    def store_for(self, study_id: int, study_dir: str | None) -> Path | None:
        """The store of a study: this source's folder, else ``<study_dir>/.reprovip`` when it exists."""
        if self.store is not None:
            return self.store
        if study_id not in self._stores:
            cand = Path(study_dir) / STORE_DIR if study_dir else None
            self._stores[study_id] = cand.resolve() if cand is not None and cand.is_dir() else None
        return self._stores[study_id]


def limit_queries(engine: Engine, seconds: float) -> None:
    """Abort any statement that runs longer than ``seconds`` and refuse writes on this engine.

    SQLite: a progress handler interrupts the statement (``OperationalError: interrupted``) and
    ``PRAGMA query_only`` refuses writes (the URL already opens the file with ``mode=ro``).
    PostgreSQL: ``statement_timeout`` and read-only transactions.
    """
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _connect(dbapi_conn: Any, record: Any) -> None:
            deadline = [math.inf]
            dbapi_conn.set_progress_handler(lambda: 1 if time.monotonic() > deadline[0] else 0, 10_000)
            record.info["reprovip_deadline"] = deadline
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout={int(seconds * 1000)}")
            cur.execute("PRAGMA query_only=1")
            cur.close()

        @event.listens_for(engine, "before_cursor_execute")
        def _before(conn: Any, *_args: Any) -> None:
            deadline = conn.info.get("reprovip_deadline")
            if deadline is not None:
                deadline[0] = time.monotonic() + seconds

    elif engine.dialect.name == "postgresql":

        @event.listens_for(engine, "connect")
        def _pg_connect(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute(f"SET statement_timeout = {int(seconds * 1000)}")
            cur.execute("SET default_transaction_read_only = on")
            cur.close()
            dbapi_conn.commit()


def _shown(url: str) -> str:
    """A database URL without its password (it is shown on pages).

    Examples
    --------
    >>> _shown("postgresql+psycopg://me:secret@db/reprovip")
    'postgresql+psycopg://me:***@db/reprovip'
    """
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (SQLAlchemyError, ValueError):
        return url.rsplit("@", 1)[-1]


def _find_stores(arg: str) -> list[Path]:
    p = Path(arg).expanduser()
    if p.is_file():
        if p.name.endswith((".yaml", ".yml")):
            return [p.parent / STORE_DIR] if (p.parent / STORE_DIR / "catalog.sqlite").exists() else []
        return [p.parent] if p.suffix in (".sqlite", ".db") else []
    if not p.is_dir():
        raise NotFoundError(f"{arg}: no such study, store or folder")
    if (p / "catalog.sqlite").exists():
        return [p]
    if (p / STORE_DIR / "catalog.sqlite").exists():
        return [p / STORE_DIR]
    found = sorted(
        {
            c.parent
            for pattern in ("*/" + STORE_DIR + "/catalog.sqlite", "*/*/" + STORE_DIR + "/catalog.sqlite")
            for c in p.glob(pattern)
        }
    )
    return found


def _check(catalog: Catalog, label: str) -> None:
    try:
        with catalog.engine.connect() as conn:
            conn.execute(select(s.studies.c.id).limit(1)).all()
    except SQLAlchemyError as exc:
        raise StoreError(f"{label}: not a reprovip catalog or not readable ({exc.__class__.__name__})") from exc


def open_sources(args: list[str], *, query_timeout: float = 2.0) -> list[Source]:
    """Open every catalog named by ``args`` read-only (default: the current folder's study).

    Raises
    ------
    NotFoundError
        An argument names nothing, or no catalog was found at all.
    """
    sources: list[Source] = []
    seen: set[str] = set()
    for arg in args or ["."]:
        if "://" in arg:
            if arg in seen:
                continue
            seen.add(arg)
            label = _shown(arg)
            catalog = Catalog(arg, read_only=True)
            limit_queries(catalog.engine, query_timeout)
            _check(catalog, label)
            sources.append(Source(len(sources), label, catalog))
            continue
        stores = _find_stores(arg)
        if not stores:
            raise NotFoundError(
                f"{arg}: no reprovip store found (looked for .reprovip/catalog.sqlite); "
                "run `reprovip run` or `reprovip ingest` first"
            )
        for store in stores:
            root = store.resolve()
            if str(root) in seen:
                continue
            seen.add(str(root))
            catalog = Catalog.for_store(root, read_only=True)
            limit_queries(catalog.engine, query_timeout)
            _check(catalog, str(root))
            sources.append(Source(len(sources), str(root), catalog, root, query_timeout))
    return sources


def parse_key(key: str) -> tuple[int, int]:
    """Split a study key ``"<source>-<study id>"``.

    Examples
    --------
    >>> parse_key("0-12")
    (0, 12)
    """
    m = KEY.match(key)
    if not m:
        raise NotFoundError(f"no study {key!r}")
    return int(m.group(1)), int(m.group(2))
