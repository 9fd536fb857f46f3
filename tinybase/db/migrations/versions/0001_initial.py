"""The system tables and the empty ``_record`` view.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tinybase.db.types import UTCDateTime, UUIDText

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.Column:
    return sa.Column("id", UUIDText(), primary_key=True)


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, UTCDateTime(), nullable=nullable)


def _user_id(*, nullable: bool, ondelete: str) -> sa.Column:
    return sa.Column(
        "user_id",
        UUIDText(),
        sa.ForeignKey("_user.id", ondelete=ondelete),
        nullable=nullable,
    )


def upgrade() -> None:
    op.create_table(
        "_user",
        _id(),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("token_version", sa.Integer(), nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
    )
    op.create_index("ix__user_email", "_user", ["email"], unique=True)
    op.create_index("ix__user_updated_at", "_user", ["updated_at"])  # revocation poll

    op.create_table(
        "_collection",
        _id(),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("label", sa.String(), nullable=False),
        sa.Column("schema", sa.JSON(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
    )
    op.create_index("ix__collection_name", "_collection", ["name"], unique=True)

    op.create_table(
        "_function_call",
        _id(),
        sa.Column("function_name", sa.String(), nullable=False),
        _user_id(nullable=True, ondelete="SET NULL"),
        sa.Column("trigger_type", sa.String(), nullable=False),
        sa.Column("trigger_id", UUIDText(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("error_message", sa.String(), nullable=True),
        sa.Column("error_type", sa.String(), nullable=True),
        _timestamp("created_at"),
    )
    op.create_index("ix__function_call_function_name", "_function_call", ["function_name"])
    op.create_index("ix__function_call_user_id", "_function_call", ["user_id"])

    op.create_table(
        "_function_schedule",
        _id(),
        sa.Column("function_name", sa.String(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("schedule", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        _timestamp("last_run_at", nullable=True),
        _timestamp("next_run_at", nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
    )
    op.create_index("ix__function_schedule_function_name", "_function_schedule", ["function_name"])
    op.create_index("ix__function_schedule_next_run_at", "_function_schedule", ["next_run_at"])

    op.create_table(
        "_session",
        _id(),
        _user_id(nullable=False, ondelete="CASCADE"),
        sa.Column("family_id", UUIDText(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        _timestamp("created_at"),
        _timestamp("expires_at"),
        _timestamp("rotated_at", nullable=True),
        _timestamp("revoked_at", nullable=True),
    )
    op.create_index("ix__session_user_id", "_session", ["user_id"])
    op.create_index("ix__session_family_id", "_session", ["family_id"])
    op.create_index("ix__session_token_hash", "_session", ["token_hash"], unique=True)
    op.create_index("ix__session_revoked_at", "_session", ["revoked_at"])  # revocation poll

    op.create_table(
        "_password_reset",
        sa.Column("token_hash", sa.String(length=64), primary_key=True),
        _user_id(nullable=False, ondelete="CASCADE"),
        _timestamp("expires_at"),
        _timestamp("used_at", nullable=True),
        _timestamp("created_at"),
    )
    op.create_index("ix__password_reset_user_id", "_password_reset", ["user_id"])

    op.create_table(
        "_setting",
        sa.Column("key", sa.String(length=200), primary_key=True),
        sa.Column("value", sa.JSON(), nullable=False),
        _timestamp("updated_at"),
    )

    op.create_table(
        "_secret",
        sa.Column("name", sa.String(length=100), primary_key=True),
        sa.Column("value", sa.String(), nullable=False),
        _timestamp("created_at"),
    )

    op.create_table(
        "_record_api",
        sa.Column("name", sa.String(length=63), primary_key=True),
        sa.Column("config", sa.JSON(), nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
    )

    op.execute(_empty_record_view())


def downgrade() -> None:
    op.execute(sa.text("DROP VIEW IF EXISTS _record"))
    for table in (
        "_record_api",
        "_secret",
        "_setting",
        "_password_reset",
        "_session",
        "_function_schedule",
        "_function_call",
        "_collection",
        "_user",
    ):
        op.drop_table(table)


def _empty_record_view() -> sa.TextClause:
    """``_record`` with the columns of ``Record`` and no rows.

    The collections service replaces it with a UNION over the collection tables whenever
    collections change; until the first collection exists, ``select(Record)`` finds nothing.
    """
    dialect = op.get_bind().dialect
    columns = [
        ("id", sa.String(36)),
        ("collection_id", sa.String(36)),
        ("owner_id", sa.String(36)),
        ("data", sa.JSON()),
        ("created_at", sa.DateTime(timezone=True)),
        ("updated_at", sa.DateTime(timezone=True)),
    ]
    select = sa.select(*(sa.cast(sa.null(), type_).label(name) for name, type_ in columns)).where(
        sa.false()
    )
    compiled = select.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
    return sa.text(f"CREATE VIEW _record AS {compiled}")
