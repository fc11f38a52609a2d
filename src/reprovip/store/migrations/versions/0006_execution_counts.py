"""Executions counted per study, condition and status, kept by triggers: the dashboard's counts at 10^6.

A new table ``execution_counts`` (with the sum and number of known durations), filled from the executions
already there, and the triggers that keep it (SQLite and PostgreSQL; on another database the table stays
empty and is not read). The triggers are created before the table is filled, in the same transaction: on
PostgreSQL creating them locks ``executions`` against writes until the commit, so no change falls between
the fill and the first trigger. A catalog created from schema.py before migrations existed already has the
table and its triggers.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from reprovip.store.schema import COUNT_TRIGGERS, COUNTS_BACKFILL

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if "execution_counts" in sa.inspect(bind).get_table_names():
        return
    op.create_table(
        "execution_counts",
        sa.Column("study_id", sa.Integer, primary_key=True),
        sa.Column("condition_key", sa.Text, primary_key=True),
        sa.Column("status", sa.String(20), primary_key=True),
        sa.Column("n", sa.BigInteger, nullable=False),
        sa.Column("duration_sum", sa.Float, nullable=False),
        sa.Column("duration_n", sa.BigInteger, nullable=False),
    )
    for statement in COUNT_TRIGGERS.get(bind.dialect.name, ()):
        op.execute(statement)
    if bind.dialect.name in COUNT_TRIGGERS:
        op.execute(COUNTS_BACKFILL)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS execution_counts_{name}")
    elif bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS execution_counts ON executions")
        op.execute("DROP FUNCTION IF EXISTS execution_counts_change()")
    op.drop_table("execution_counts")
