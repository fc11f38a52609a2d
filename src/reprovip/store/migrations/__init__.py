"""Catalog schema migrations (Alembic), applied when a writer opens a :class:`~reprovip.store.Catalog`.

Every catalog records its revision in Alembic's ``alembic_version`` table. Opening a catalog for writing
upgrades it to :data:`HEAD`, under a lock so that two processes opening a new catalog at once do not race:
a transaction-level advisory lock on PostgreSQL, ``BEGIN IMMEDIATE`` (and the busy timeout) on SQLite.
A catalog at a revision this code does not know was written by a newer reprovip and is refused.
Catalogs created before migrations existed (tables and ``meta.schema_version`` but no ``alembic_version``)
are stamped with the first revision, whose tables they already have, then upgraded.

Adding a revision: change ``schema.py``, then write ``versions/NNNN_what.py`` (``alembic -c
src/reprovip/store/migrations/alembic.ini revision -m "what"`` writes the skeleton; autogenerate works with
``-x url=sqlite:///some/catalog.sqlite``), set :data:`HEAD` to its id and run ``tests/store``. The import of
Alembic costs about 0.3 s, so it happens only when an existing catalog is not at :data:`HEAD`: a new, empty
database gets ``schema.py``'s tables and is stamped :data:`HEAD` directly (the tests check that the migrations
build the very same schema).
"""

from __future__ import annotations

import functools
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

from reprovip.errors import StoreError

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory
    from sqlalchemy.engine import Connection, Engine

HEAD = "0007"
"""The newest revision in ``versions/`` (a test checks it): a catalog here needs no migration. This module
imports SQLAlchemy only in its functions: ``reprovip status`` reads :data:`HEAD` without it."""
BASE = "0001"
"""The revision a catalog created before migrations already has."""
LOCATION = Path(__file__).parent
VERSION_TABLE = "alembic_version"
# One key for every catalog of a database: migrations are rare, so serializing them costs nothing.
_PG_LOCK_KEY = zlib.crc32(b"reprovip.catalog.migrate")


def current_revision(conn: Connection) -> str | None:
    """The catalog's revision, or None when it has no ``alembic_version`` table (new or pre-migration)."""
    from sqlalchemy import inspect, text

    if not inspect(conn).has_table(VERSION_TABLE):
        return None
    rows = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    if len(rows) > 1:
        raise StoreError(f"catalog has several schema revisions {sorted(rows)}; it was migrated by hand")
    return rows[0] if rows else None


def upgrade(engine: Engine, *, migrate_new: bool = False) -> None:
    """Bring the catalog behind ``engine`` to :data:`HEAD`; refuse one newer than this code.

    ``migrate_new`` runs every migration on a new catalog too, instead of creating ``schema.py``'s tables.

    Raises
    ------
    StoreError
        The catalog was written by a newer reprovip.
    """
    from sqlalchemy import text

    with engine.connect() as conn:
        if current_revision(conn) == HEAD:  # the common case: one query, no Alembic import
            return
    dialect = engine.dialect.name
    if dialect == "sqlite":
        # pysqlite would not begin a transaction before DDL; take the write lock ourselves, first thing.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                _upgrade_locked(conn, migrate_new=migrate_new)
            except BaseException:
                conn.exec_driver_sql("ROLLBACK")
                raise
            conn.exec_driver_sql("COMMIT")
    else:
        with engine.begin() as conn:
            if dialect == "postgresql":
                # Released at commit: the second process waits, then finds the catalog at HEAD.
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
            _upgrade_locked(conn, migrate_new=migrate_new)


def _create_at_head(conn: Connection) -> None:
    """Create ``schema.py``'s tables in an empty database and record them as revision :data:`HEAD`."""
    from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, String, Table, insert

    from reprovip.store import schema

    schema.metadata.create_all(conn)
    conn.execute(insert(schema.meta).values(key="schema_version", value=str(schema.SCHEMA_VERSION)))
    conn.execute(insert(schema.meta).values(key=schema.CATALOG_ID_KEY, value=schema.new_catalog_id()))
    # Alembic's own version table, as `alembic stamp` would create it.
    version = Table(
        VERSION_TABLE,
        MetaData(),
        Column("version_num", String(32), nullable=False),
        PrimaryKeyConstraint("version_num", name=f"{VERSION_TABLE}_pkc"),
    )
    version.create(conn)
    conn.execute(insert(version).values(version_num=HEAD))


def _upgrade_locked(conn: Connection, *, migrate_new: bool = False) -> None:
    """Upgrade under the lock; ``migrate_new`` builds a new catalog through every migration (tests)."""
    from sqlalchemy import inspect

    revision = current_revision(conn)  # again: another process may have migrated while we waited
    if revision == HEAD:
        return
    if revision is None and not migrate_new and not inspect(conn).has_table("executions"):
        _create_at_head(conn)
        return
    from alembic import command

    if revision is not None and revision not in _known_revisions():
        raise StoreError(
            f"catalog schema revision {revision!r} is newer than this reprovip (which knows up to {HEAD!r}); "
            "upgrade reprovip to use this catalog"
        )
    if revision is None and inspect(conn).has_table("executions"):
        _check_legacy_version(conn)
        command.stamp(_config(conn), BASE)
    command.upgrade(_config(conn), "head")


def _check_legacy_version(conn: Connection) -> None:
    from sqlalchemy import inspect, text

    from reprovip.store.schema import SCHEMA_VERSION

    value = None
    if inspect(conn).has_table("meta"):
        value = conn.execute(text("SELECT value FROM meta WHERE key = 'schema_version'")).scalar()
    if value is not None and int(value) > SCHEMA_VERSION:
        raise StoreError(f"catalog schema {value} is newer than this reprovip ({SCHEMA_VERSION}); upgrade reprovip")


def _config(conn: Connection):  # noqa: ANN202 - alembic.config.Config, imported lazily
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(LOCATION))
    cfg.attributes["connection"] = conn
    return cfg


@functools.cache
def script_directory() -> ScriptDirectory:
    """Alembic's view of ``versions/`` (imports Alembic)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(LOCATION))
    return ScriptDirectory.from_config(cfg)


def _known_revisions() -> set[str]:
    return {r.revision for r in script_directory().walk_revisions()}
