"""The events handed to extension hooks, with exactly the seed's fields
(``seeds/tinybase-python-api.md``, "Event Classes")."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

__all__ = [
    "BeforeRecordCreateEvent",
    "BeforeRecordDeleteEvent",
    "BeforeRecordUpdateEvent",
    "FunctionCallEvent",
    "FunctionCompleteEvent",
    "RecordCreateEvent",
    "RecordDeleteEvent",
    "RecordUpdateEvent",
    "UserLoginEvent",
    "UserRegisterEvent",
]


@dataclass
class UserLoginEvent:
    """A user logged in with a password (a token refresh is not a login)."""

    user_id: UUID
    email: str
    is_admin: bool


@dataclass
class UserRegisterEvent:
    """A user came to exist: registration, the admin API or the CLI."""

    user_id: UUID
    email: str


@dataclass
class RecordCreateEvent:
    """A record was created and the write committed."""

    collection: str
    record_id: UUID
    data: dict
    owner_id: UUID | None


@dataclass
class RecordUpdateEvent:
    """A record was updated and the write committed: the stored row before and after."""

    collection: str
    record_id: UUID
    old_data: dict
    new_data: dict
    owner_id: UUID | None


@dataclass
class RecordDeleteEvent:
    """A record was deleted and the write committed: the row as it was."""

    collection: str
    record_id: UUID
    data: dict
    owner_id: UUID | None


@dataclass
class FunctionCallEvent:
    """A function is about to run."""

    function_name: str
    user_id: UUID | None
    payload: dict


@dataclass
class FunctionCompleteEvent:
    """A function finished: ``status`` is ``"succeeded"`` or ``"failed"``."""

    function_name: str
    user_id: UUID | None
    status: str
    duration_ms: int
    error_message: str | None
    error_type: str | None


# -- before-record hooks (beyond the seed): run inside the write's transaction -------------


@dataclass
class BeforeRecordCreateEvent:
    """A record is about to be created. ``data`` (the field values about to be stored) may
    be changed in place, or the handler may return a new dict for it.

    ``user_id``/``is_admin`` describe the caller (``user_id`` None: anonymous, or TinyBase
    itself with ``is_admin`` true, as for ``CollectionService``).
    """

    collection: str
    data: dict
    owner_id: UUID | None
    user_id: UUID | None
    is_admin: bool


@dataclass
class BeforeRecordUpdateEvent:
    """A record is about to be updated. ``data`` holds the fields being changed (editable
    like a create's); ``old_data`` the stored record's fields, as the write sees them."""

    collection: str
    record_id: UUID
    data: dict
    old_data: dict
    owner_id: UUID | None
    user_id: UUID | None
    is_admin: bool


@dataclass
class BeforeRecordDeleteEvent:
    """A record is about to be deleted (the handler may only refuse): its stored fields."""

    collection: str
    record_id: UUID
    data: dict
    owner_id: UUID | None
    user_id: UUID | None
    is_admin: bool
