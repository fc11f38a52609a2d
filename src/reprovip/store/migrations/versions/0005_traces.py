"""Traces of what executions wrote (``trace: files``) and which process read and wrote it (``trace: processes``).

Three new tables; existing catalogs get them empty (no execution was traced before). A catalog created from
schema.py before migrations existed may already have them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = ("trace_processes", "trace_files", "traces")


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "traces" not in existing:
        op.create_table(
            "traces",
            sa.Column("execution_id", sa.String(32), sa.ForeignKey("executions.id"), primary_key=True),
            sa.Column("mode", sa.String(20), nullable=False),
            sa.Column("note", sa.Text()),
        )
    if "trace_files" not in existing:
        op.create_table(
            "trace_files",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("execution_id", sa.String(32), sa.ForeignKey("executions.id"), nullable=False),
            sa.Column("relpath", sa.Text(), nullable=False),
            sa.Column("size", sa.BigInteger()),
            sa.Column("mtime_ns", sa.BigInteger()),
            sa.Column("write_order", sa.Integer()),
            sa.Column("blob", sa.String(64)),
            sa.Column("semantic_hash", sa.String(64)),
        )
        op.create_index("ix_trace_files_execution_id", "trace_files", ["execution_id"])
    if "trace_processes" not in existing:
        op.create_table(
            "trace_processes",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("execution_id", sa.String(32), sa.ForeignKey("executions.id"), nullable=False),
            sa.Column("number", sa.Integer(), nullable=False),
            sa.Column("parent", sa.Integer()),
            sa.Column("argv", sa.JSON()),
            sa.Column("cwd", sa.Text()),
            sa.Column("exit_code", sa.Integer()),
            sa.Column("reads", sa.JSON()),
            sa.Column("writes", sa.JSON()),
        )
        op.create_index("ix_trace_processes_execution_id", "trace_processes", ["execution_id"])


def downgrade() -> None:
    for name in TABLES:
        op.drop_table(name)
