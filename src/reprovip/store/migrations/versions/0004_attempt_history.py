"""Attempts know their outcome, their recipe and whether they are history; they are numbered within their run.

Failed attempts of an earlier recipe (or of a run before ``--force``) were counted as flakiness forever. Each
attempt now records ``status`` (done/failed), ``recipe`` and ``superseded`` (set when a changed recipe or
``--force`` resets its execution). Existing rows: the status follows from the error (none means done); the
recipe is unknown (NULL); the last ``executions.attempts`` attempts of each execution are current, as that
count meant before; numbers restart at 1 in each run.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

COLUMNS = {
    "status": sa.String(20),
    "recipe": sa.String(32),
    "superseded": sa.Boolean(),
}
BACKFILL = [
    "UPDATE attempts SET status = CASE WHEN error IS NULL THEN 'done' ELSE 'failed' END WHERE status IS NULL",
    """UPDATE attempts SET superseded = (
        (SELECT COUNT(*) FROM attempts AS later
         WHERE later.execution_id = attempts.execution_id AND later.id > attempts.id)
        >= COALESCE((SELECT e.attempts FROM executions AS e WHERE e.id = attempts.execution_id), 0)
    ) WHERE superseded IS NULL""",
    """UPDATE attempts SET number = (
        SELECT COUNT(*) FROM attempts AS earlier
        WHERE earlier.execution_id = attempts.execution_id AND earlier.run_id = attempts.run_id
          AND earlier.id <= attempts.id
    ) WHERE run_id IS NOT NULL""",
]


def upgrade() -> None:
    # A catalog created from schema.py before migrations existed may already have the columns.
    existing = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("attempts")}
    with op.batch_alter_table("attempts") as batch:
        for name, type_ in COLUMNS.items():
            if name not in existing:
                batch.add_column(sa.Column(name, type_))
    for statement in BACKFILL:
        op.execute(statement)


def downgrade() -> None:
    with op.batch_alter_table("attempts") as batch:
        for name in COLUMNS:
            batch.drop_column(name)
