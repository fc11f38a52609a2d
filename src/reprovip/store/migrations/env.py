"""Alembic environment of the catalog.

Run by :func:`reprovip.store.migrations.upgrade` with an open connection (``config.attributes['connection']``)
already inside the caller's transaction and lock; or from the ``alembic`` command line with
``-x url=DATABASE_URL`` (or ``sqlalchemy.url`` in ``alembic.ini``).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from reprovip.store.schema import metadata

config = context.config


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("give the catalog's URL: alembic -x url=postgresql+psycopg://... upgrade head")
    return url


def _run(connection) -> None:  # noqa: ANN001
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif (conn := config.attributes.get("connection")) is not None:
    _run(conn)
else:
    engine = create_engine(_url())
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()
