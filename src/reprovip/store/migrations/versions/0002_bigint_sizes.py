"""Widen the integers that outgrow 32 bits: peak RSS and output sizes in bytes, seeds.

A registration using 3 GiB of memory, or a 4 GiB 4D image, overflowed PostgreSQL's ``integer``; seeds given in
study.yaml may exceed 2**31. SQLite's INTEGER is already 64-bit, so only other databases change.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

COLUMNS = [
    ("executions", "peak_rss"),
    ("attempts", "peak_rss"),
    ("executions", "seed"),
    ("attempts", "seed"),
    ("outputs", "size"),
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    for table, column in COLUMNS:
        op.alter_column(table, column, type_=sa.BigInteger(), existing_type=sa.Integer())


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    for table, column in COLUMNS:
        op.alter_column(table, column, type_=sa.Integer(), existing_type=sa.BigInteger())
