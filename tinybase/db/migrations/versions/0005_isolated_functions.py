"""Isolated functions: ``_function_call.output`` (what a call printed, for admins) and
``_function_version`` (the scripts deployed over HTTP, every version kept for rollbacks).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tinybase.db.types import UTCDateTime, UUIDText

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("_function_call") as batch:
        batch.add_column(sa.Column("output", sa.Text(), nullable=True))
    op.create_table(
        "_function_version",
        sa.Column("id", UUIDText(), primary_key=True),
        sa.Column("function_name", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("content_hash", sa.String(), nullable=True),
        sa.Column("note", sa.String(), nullable=True),
        sa.Column(
            "deployed_by",
            UUIDText(),
            sa.ForeignKey("_user.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("function_name", "version"),
    )
    op.create_index("ix__function_version_function_name", "_function_version", ["function_name"])
    op.create_index("ix__function_version_deployed_by", "_function_version", ["deployed_by"])


def downgrade() -> None:
    op.drop_table("_function_version")
    with op.batch_alter_table("_function_call") as batch:
        batch.drop_column("output")
