"""Alembic environment of the catalog.

Run by :func:`reprovip.store.migrations.upgrade` with an open connection (``config.attributes['connection']``)
already inside the caller's transaction and lock; or from the ``alembic`` command line with
``-x url=DATABASE_URL`` (or ``sqlalchemy.url`` in ``alembic.ini``). Imported outside Alembic (by a test
collector, say), it does nothing.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import create_engine

from reprovip.store.schema import metadata


def _url(config: Any) -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("give the catalog's URL: alembic -x url=postgresql+psycopg://... upgrade head")
    return url


def _run(connection: Any) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def main(config: Any) -> None:
    """Run the migrations Alembic asked for: offline (``--sql``), on the given connection, or on ``-x url``."""
    if context.is_offline_mode():
        context.configure(url=_url(config), target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
    elif (conn := config.attributes.get("connection")) is not None:
        _run(conn)
    else:
        engine = create_engine(_url(config))
        try:
            with engine.begin() as conn:
                _run(conn)
        finally:
            engine.dispose()


try:
    _config = context.config
except AttributeError:  # not run by Alembic: there is no migration context
    _config = None
if _config is not None:
    main(_config)
