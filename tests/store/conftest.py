"""Catalog URLs for the store tests: a SQLite file, and a fresh schema of a real PostgreSQL server.

PostgreSQL tests need ``REPROVIP_TEST_PG_URL`` (``scripts/test.sh`` starts a server and sets it when run as
root); without it they skip, saying so (and fail when CI is set).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import unavailable

PG_ENV = "REPROVIP_TEST_PG_URL"
NO_PG = f"no PostgreSQL server: set {PG_ENV} (scripts/test.sh starts one and sets it when run as root)"


def _pg_base_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        unavailable(NO_PG)
    pytest.importorskip("psycopg", reason="PostgreSQL needs psycopg: pip install 'reprovip[postgres]'")
    return url


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A URL to an empty PostgreSQL schema of its own (``search_path``), dropped after the test."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = _pg_base_url()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each catalog backend in turn: a SQLite file, then a PostgreSQL schema (skipped without a server)."""
    if request.param == "sqlite":
        from reprovip.store.catalog import sqlite_url

        return sqlite_url(tmp_path / "catalog.sqlite")
    return request.getfixturevalue("pg_url")


def upgrade_to(conn: Any, revision: str) -> None:
    """Create or migrate the catalog on ``conn`` (a SQLAlchemy connection) up to the migration ``revision``."""
    from alembic import command
    from alembic.config import Config

    from reprovip.store.migrations import LOCATION

    cfg = Config()
    cfg.set_main_option("script_location", str(LOCATION))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, revision)
