"""TinyBase's system tables as SQLModel models. System table names start with ``_``.

``Record`` is not a table: it is a read model over every collection table (the ``_record``
view, regenerated whenever collections change), so ``select(Record)`` works as in the
public API's examples. Records are written through ``CollectionService``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from tinybase.db.types import UTCDateTime, UUIDText
from tinybase.utils import utcnow, uuid7

__all__ = [
    "Collection",
    "FunctionCall",
    "FunctionSchedule",
    "FunctionVersion",
    "PasswordReset",
    "RealtimeEvent",
    "Record",
    "RecordApi",
    "ScheduleRun",
    "Secret",
    "Setting",
    "User",
    "UserSession",
]


def _id_field() -> Any:
    return Field(default_factory=uuid7, primary_key=True, sa_type=UUIDText)


def _timestamp_field() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def _user_fk(*, nullable: bool, ondelete: str) -> Any:
    return Field(
        default=None,
        sa_column_kwargs={"nullable": nullable},
        sa_type=UUIDText,
        foreign_key="_user.id",
        ondelete=ondelete,
        index=True,
    )


class User(SQLModel, table=True):
    """A person who can log in. ``token_version`` moves on whenever their tokens must die."""

    __tablename__ = "_user"

    id: UUID = _id_field()
    email: str = Field(max_length=320, unique=True, index=True)
    password_hash: str
    is_admin: bool = False
    token_version: int = 0
    created_at: datetime = _timestamp_field()
    updated_at: datetime = Field(
        default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True
    )


class Collection(SQLModel, table=True):
    """A collection: a real table named ``name`` with a typed column per schema field."""

    __tablename__ = "_collection"

    id: UUID = _id_field()
    name: str = Field(max_length=63, unique=True, index=True)
    label: str
    schema_: dict = Field(
        default_factory=dict, sa_column=sa.Column("schema", sa.JSON, nullable=False)
    )
    options: dict = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    created_at: datetime = _timestamp_field()
    updated_at: datetime = _timestamp_field()


class Record(SQLModel, table=True):
    """One record of any collection, as seen through the ``_record`` view (read-only)."""

    __tablename__ = "_record"
    __table_args__ = {"info": {"is_view": True}}

    id: UUID = Field(primary_key=True, sa_type=UUIDText)
    collection_id: UUID = Field(sa_type=UUIDText)
    owner_id: UUID | None = Field(default=None, sa_type=UUIDText)
    data: dict = Field(default_factory=dict, sa_type=sa.JSON)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class FunctionCall(SQLModel, table=True):
    """One execution of a function, kept for the admin's call history."""

    __tablename__ = "_function_call"

    id: UUID = _id_field()
    function_name: str = Field(index=True)
    user_id: UUID | None = _user_fk(nullable=True, ondelete="SET NULL")
    trigger_type: str
    trigger_id: UUID | None = Field(default=None, sa_type=UUIDText, index=True)
    status: str
    duration_ms: int = 0
    error_message: str | None = None
    error_type: str | None = None
    # The traceback of a failed call: admins read it in the call record, callers never do.
    error_traceback: str | None = Field(default=None, sa_type=sa.Text)
    # What an isolated function printed during the call (bounded), for admins only.
    output: str | None = Field(default=None, sa_type=sa.Text)
    # Indexed for the retention clean-up (``scheduler_call_retention_days``).
    created_at: datetime = Field(
        default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True
    )


class FunctionVersion(SQLModel, table=True):
    """One deployed version of an isolated function's script (``PUT /api/admin/functions``).

    The newest version of a name is the one served; ``source`` None marks a removal.
    """

    __tablename__ = "_function_version"
    __table_args__ = (sa.UniqueConstraint("function_name", "version"),)

    id: UUID = _id_field()
    function_name: str = Field(index=True)
    version: int
    source: str | None = Field(default=None, sa_type=sa.Text)
    content_hash: str | None = None
    note: str | None = None
    deployed_by: UUID | None = _user_fk(nullable=True, ondelete="SET NULL")
    created_at: datetime = _timestamp_field()


class FunctionSchedule(SQLModel, table=True):
    """A function run on a schedule (once, interval or cron)."""

    __tablename__ = "_function_schedule"

    id: UUID = _id_field()
    function_name: str = Field(index=True)
    payload: dict = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    schedule: dict = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    enabled: bool = True
    last_run_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    next_run_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    created_at: datetime = _timestamp_field()
    updated_at: datetime = _timestamp_field()
    # Who the function runs as; None: TinyBase's system identity (admin rights). A schedule
    # goes with its user: it must never fall back to the system identity.
    run_as: UUID | None = _user_fk(nullable=True, ondelete="CASCADE")


class ScheduleRun(SQLModel, table=True):
    """One claimed run of a schedule: the claim, its lease, and how it ended.

    ``(schedule_id, slot, attempt)`` is unique, so two processes can never both hold the same
    run; ``lease_expires_at`` is renewed while the run goes on, and a run whose lease expired
    was interrupted (its process died). See :mod:`tinybase.schedule.claims`.
    """

    __tablename__ = "_schedule_run"
    __table_args__ = (
        sa.Index("ix__schedule_run_claim", "schedule_id", "slot", "attempt", unique=True),
    )

    id: UUID = _id_field()
    schedule_id: UUID = Field(
        sa_type=UUIDText, foreign_key="_function_schedule.id", ondelete="CASCADE", index=True
    )
    slot: datetime = Field(sa_type=UTCDateTime)
    attempt: int = 1
    trigger: str = "schedule"
    status: str = Field(default="running", index=True)
    claimed_by: str
    lease_expires_at: datetime = Field(sa_type=UTCDateTime)
    started_at: datetime = _timestamp_field()
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    error: str | None = None


class UserSession(SQLModel, table=True):
    """A refresh token, stored only as its SHA-256 hash.

    Tokens of one login form a ``family``: refreshing rotates the token within the family;
    presenting an already rotated token again revokes the whole family (token theft).
    """

    __tablename__ = "_session"

    id: UUID = _id_field()
    user_id: UUID = _user_fk(nullable=False, ondelete="CASCADE")
    family_id: UUID = Field(sa_type=UUIDText, index=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = _timestamp_field()
    expires_at: datetime = Field(sa_type=UTCDateTime)
    rotated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)


class PasswordReset(SQLModel, table=True):
    """A single-use password reset token, stored only as its SHA-256 hash."""

    __tablename__ = "_password_reset"

    token_hash: str = Field(max_length=64, primary_key=True)
    user_id: UUID = _user_fk(nullable=False, ondelete="CASCADE")
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = _timestamp_field()


class Setting(SQLModel, table=True):
    """A runtime setting (``instance_name``, ``allow_registration``, ``storage.*``)."""

    __tablename__ = "_setting"

    key: str = Field(max_length=200, primary_key=True)
    value: Any = Field(default=None, sa_type=sa.JSON)
    updated_at: datetime = _timestamp_field()


class Secret(SQLModel, table=True):
    """Instance secrets created once and shared by every process (the token signing key)."""

    __tablename__ = "_secret"

    name: str = Field(max_length=100, primary_key=True)
    value: str
    created_at: datetime = _timestamp_field()


class RecordApi(SQLModel, table=True):
    """A record API defined by an admin (beyond each collection's default one)."""

    __tablename__ = "_record_api"

    name: str = Field(max_length=63, primary_key=True)
    config: dict = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    created_at: datetime = _timestamp_field()
    updated_at: datetime = _timestamp_field()


class RealtimeEvent(SQLModel, table=True):
    """A realtime event on its way between processes (:mod:`tinybase.realtime.relay`):
    kept a minute; ``seq`` is never reused (SQLite ``AUTOINCREMENT``)."""

    __tablename__ = "_realtime_event"
    __table_args__ = {"sqlite_autoincrement": True}

    seq: int | None = Field(default=None, primary_key=True)
    payload: str = Field(sa_type=sa.Text, nullable=False)
    created_at: float = Field(nullable=False)
