"""The catalog before migrations: studies, runs, provenances, executions, attempts, outputs, analyses.

A frozen copy of ``schema.py`` at schema version 1 (later changes go in later revisions, never here).
Catalogs created by ``metadata.create_all`` before migrations existed are stamped with this revision.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    meta = op.create_table("meta", sa.Column("key", sa.String(64), primary_key=True), sa.Column("value", sa.Text))
    op.bulk_insert(meta, [{"key": "schema_version", "value": "1"}])
    op.create_table(
        "studies",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("spec", sa.JSON),
        sa.Column("study_dir", sa.Text),
        sa.Column("created_at", sa.Float),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("study_id", sa.Integer, sa.ForeignKey("studies.id"), nullable=False),
        sa.Column("command", sa.String(20)),
        sa.Column("status", sa.String(20)),
        sa.Column("started_at", sa.Float),
        sa.Column("finished_at", sa.Float),
        sa.Column("hostname", sa.String(255)),
        sa.Column("pid", sa.Integer),
        sa.Column("n_planned", sa.Integer),
        sa.Column("n_done", sa.Integer),
        sa.Column("n_failed", sa.Integer),
        sa.Column("reprovip_version", sa.String(40)),
    )
    op.create_table(
        "provenances",
        sa.Column("hash", sa.String(32), primary_key=True),
        sa.Column("data", sa.JSON),
    )
    op.create_table(
        "executions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("study_id", sa.Integer, sa.ForeignKey("studies.id"), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("input", sa.Text),
        sa.Column("condition_key", sa.Text, nullable=False),
        sa.Column("condition", sa.JSON),
        sa.Column("repetition", sa.Integer, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("recipe", sa.String(32)),
        sa.Column("source", sa.String(20)),
        sa.Column("attempts", sa.Integer),
        sa.Column("seed", sa.Integer),
        sa.Column("exit_code", sa.Integer),
        sa.Column("duration", sa.Float),
        sa.Column("peak_rss", sa.Integer),
        sa.Column("error", sa.Text),
        sa.Column("run_id", sa.Integer),
        sa.Column("provenance", sa.String(32)),
        sa.Column("started_at", sa.Float),
        sa.Column("finished_at", sa.Float),
        sa.UniqueConstraint("study_id", "subject", "condition_key", "repetition"),
    )
    op.create_index("ix_exec_study_status", "executions", ["study_id", "status"])
    op.create_table(
        "attempts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("execution_id", sa.String(32), sa.ForeignKey("executions.id"), nullable=False),
        sa.Column("number", sa.Integer),
        sa.Column("run_id", sa.Integer),
        sa.Column("argv", sa.JSON),
        sa.Column("env", sa.JSON),
        sa.Column("seed", sa.Integer),
        sa.Column("exit_code", sa.Integer),
        sa.Column("timed_out", sa.Boolean),
        sa.Column("duration", sa.Float),
        sa.Column("peak_rss", sa.Integer),
        sa.Column("stdout", sa.Text),
        sa.Column("stderr", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("provenance", sa.String(32)),
        sa.Column("hostname", sa.String(255)),
        sa.Column("pid", sa.Integer),
        sa.Column("started_at", sa.Float),
        sa.Column("finished_at", sa.Float),
    )
    op.create_index("ix_attempts_execution_id", "attempts", ["execution_id"])
    op.create_table(
        "outputs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("execution_id", sa.String(32), sa.ForeignKey("executions.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("relpath", sa.Text),
        sa.Column("kind", sa.String(20)),
        sa.Column("blob", sa.String(64)),
        sa.Column("suffix", sa.String(20)),
        sa.Column("size", sa.Integer),
        sa.Column("semantic_hash", sa.String(64)),
        sa.Column("missing", sa.Boolean),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_outputs_execution_id", "outputs", ["execution_id"])
    op.create_index("ix_outputs_blob", "outputs", ["blob"])
    op.create_table(
        "analyses",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("study_id", sa.Integer, sa.ForeignKey("studies.id"), nullable=False),
        sa.Column("created_at", sa.Float),
        sa.Column("document", sa.JSON),
    )


def downgrade() -> None:
    for table in ("analyses", "outputs", "attempts", "executions", "provenances", "runs", "studies", "meta"):
        op.drop_table(table)
