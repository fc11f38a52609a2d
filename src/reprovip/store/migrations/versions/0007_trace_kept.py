"""Traced files kept in the blob store (``trace_keep``): a ``kept`` flag on ``trace_files``.

Existing rows get NULL, read as not kept: before this revision no traced file was stored. A catalog created
from schema.py before migrations existed may already have the column.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "kept" not in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("trace_files")}:
        op.add_column("trace_files", sa.Column("kept", sa.Boolean()))


def downgrade() -> None:
    with op.batch_alter_table("trace_files") as batch:
        batch.drop_column("kept")
