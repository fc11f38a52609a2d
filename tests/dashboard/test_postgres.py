"""The dashboard over a team catalog on a real PostgreSQL server: read-only, time-limited, password hidden."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import DBAPIError

from reprovip.dashboard import create_app, open_sources
from reprovip.store import Catalog
from reprovip.store import schema as s
from tests.conftest import execution_rows
from tests.dashboard.conftest import Client
from tests.store.conftest import pg_url  # noqa: F401 (fixture: a fresh schema, skipped without a server)


def test_postgres_catalog_is_served_read_only(pg_url: str) -> None:  # noqa: F811
    cat = Catalog(pg_url)
    sid = cat.ensure_study("team", {"name": "team"}, "/nonexistent")
    with cat.engine.begin() as conn:
        conn.execute(insert(s.executions), execution_rows(sid, 5, failed=(0,)))
    cat.close()
    (src,) = open_sources([pg_url], query_timeout=0.3)
    assert "reprovip:***@" in src.label and ":reprovip@" not in src.label
    data = Client(create_app([src])).get("/index.json").json()
    assert data["studies"][0]["counts"] == {"done": 4, "failed": 1, "running": 0, "pending": 0}
    assert data["studies"][0]["source"] == src.label
    with pytest.raises(DBAPIError, match="read-only transaction"):
        with src.engine.begin() as conn:
            conn.execute(insert(s.meta).values(key="x", value="y"))
    start = time.monotonic()
    with pytest.raises(DBAPIError, match="statement timeout"):
        with src.engine.connect() as conn:
            conn.execute(text("SELECT pg_sleep(5)"))
    assert time.monotonic() - start < 3
    src.catalog.close()
