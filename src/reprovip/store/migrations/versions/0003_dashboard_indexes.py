"""Indexes for the dashboard: progress by condition and status, executions by completion time.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_exec_study_condition_status": ["study_id", "condition_key", "status"],
    "ix_exec_study_finished": ["study_id", "finished_at"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "executions", columns, if_not_exists=True)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="executions", if_exists=True)
