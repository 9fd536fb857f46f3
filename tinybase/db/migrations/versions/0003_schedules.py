"""Schedules: who a schedule runs as, its claimed runs, indexes for the call history.

Revision ID: 0003
Revises: 0002_function_call_traceback
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tinybase.db.types import UTCDateTime, UUIDText

revision: str = "0003"
down_revision: str | None = "0002_function_call_traceback"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # SQLite cannot add a foreign key to an existing table: batch mode rebuilds it there.
    with op.batch_alter_table("_function_schedule") as batch:
        batch.add_column(sa.Column("run_as", UUIDText(), nullable=True))
        batch.create_foreign_key(
            "fk__function_schedule_run_as", "_user", ["run_as"], ["id"], ondelete="CASCADE"
        )
        batch.create_index("ix__function_schedule_run_as", ["run_as"])
    op.create_index("ix__function_call_trigger_id", "_function_call", ["trigger_id"])
    op.create_index("ix__function_call_created_at", "_function_call", ["created_at"])
    op.create_table(
        "_schedule_run",
        sa.Column("id", UUIDText(), primary_key=True),
        sa.Column(
            "schedule_id",
            UUIDText(),
            sa.ForeignKey("_function_schedule.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("slot", UTCDateTime(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("claimed_by", sa.String(), nullable=False),
        sa.Column("lease_expires_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("error", sa.String(), nullable=True),
    )
    op.create_index("ix__schedule_run_schedule_id", "_schedule_run", ["schedule_id"])
    op.create_index("ix__schedule_run_status", "_schedule_run", ["status"])
    op.create_index(
        "ix__schedule_run_claim", "_schedule_run", ["schedule_id", "slot", "attempt"], unique=True
    )


def downgrade() -> None:
    op.drop_table("_schedule_run")
    op.drop_index("ix__function_call_created_at", "_function_call")
    op.drop_index("ix__function_call_trigger_id", "_function_call")
    with op.batch_alter_table("_function_schedule") as batch:
        batch.drop_index("ix__function_schedule_run_as")
        batch.drop_constraint("fk__function_schedule_run_as", type_="foreignkey")
        batch.drop_column("run_as")
