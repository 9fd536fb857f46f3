"""Users: creation, lookup, updates and deletion, with the invariants auth depends on.

Every change that must end a user's tokens (password, admin flag) bumps ``token_version``
and ``updated_at`` in the same transaction, so other processes notice it on their next
revocation poll (see ``revocation``). Every change of the password or the email address
ends the user's pending password-reset tokens in that transaction too: a link mailed before
the change (or to the old address) must not outlive it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email

from tinybase.auth.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, PasswordHasher
from tinybase.auth.revocation import RevocationCache, UserTokenState, is_user_id
from tinybase.auth.sessions import revoke_user_sessions
from tinybase.data import Database
from tinybase.db.models import PasswordReset, User
from tinybase.errors import ConflictError, NotFoundError, ValidationError
from tinybase.utils import utcnow, uuid7

__all__ = ["UserRecord", "UserService", "normalize_email", "validate_password"]

_user = User.__table__
_reset = PasswordReset.__table__


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A user as services see it; ``password_hash`` never leaves the auth package."""

    id: str
    email: str
    is_admin: bool
    token_version: int
    created_at: datetime
    updated_at: datetime
    password_hash: str = field(repr=False)

    def public(self) -> dict[str, Any]:
        """The fields safe to show to the user or an admin."""
        return {
            "id": self.id,
            "email": self.email,
            "is_admin": self.is_admin,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


def normalize_email(value: str) -> str:
    """Strip, validate and lower-case an email address.

    Raises:
        ValidationError: the address is not a valid email address (field ``email``).
    """
    try:
        checked = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValidationError.for_field("email", str(exc)) from exc
    return checked.normalized.lower()


def validate_password(password: str, *, field_name: str = "password") -> None:
    """Reject passwords that are too short (or absurdly long).

    Raises:
        ValidationError: naming ``field_name``.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        message = f"Password must have at least {MIN_PASSWORD_LENGTH} characters"
        raise ValidationError.for_field(field_name, message)
    if len(password) > MAX_PASSWORD_LENGTH:
        message = f"Password must have at most {MAX_PASSWORD_LENGTH} characters"
        raise ValidationError.for_field(field_name, message)


class UserService:
    """The ``_user`` table behind a small API (also used by the CLI and tests).

    Args:
        db: the instance database.
        hasher: hashes new passwords.
        revocation: told about changes so this process applies them at once.

    ``created_listeners`` are called with every user that comes to exist (whatever the way:
    registration, the admin API, the CLI, the first-admin setup), once the insert has
    committed, in the writing thread (extension hooks are wired here at start-up; auth
    never imports extensions).
    """

    def __init__(self, db: Database, hasher: PasswordHasher, revocation: RevocationCache) -> None:
        self._db = db
        self._hasher = hasher
        self._revocation = revocation
        self.created_listeners: list[Callable[[UserRecord], object]] = []

    # -- reads --------------------------------------------------------------------------

    def get_user(self, user_id: str) -> UserRecord:
        """The user ``user_id``; raises NotFoundError if there is none."""
        user = self._find(_user.c.id == user_id) if is_user_id(user_id) else None
        if user is None:
            raise NotFoundError("User not found")
        return user

    def find_by_email(self, email: str) -> UserRecord | None:
        """The user with this (normalized) email address, or None."""
        return self._find(_user.c.email == email.strip().lower())

    def list_users(self, *, limit: int = 100, offset: int = 0) -> tuple[list[UserRecord], int]:
        """One page of users in creation order, and the total number of users."""
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(_user).order_by(_user.c.id).limit(limit).offset(offset)
            ).all()
            total = conn.execute(sa.select(sa.func.count()).select_from(_user)).scalar_one()
        return [_record(row) for row in rows], total

    def admin_exists(self) -> bool:
        """True if at least one admin exists."""
        with self._db.read() as conn:
            return self.admin_exists_in(conn)

    @staticmethod
    def admin_exists_in(conn: sa.Connection) -> bool:
        """True if at least one admin exists (inside the caller's transaction)."""
        statement = sa.select(_user.c.id).where(_user.c.is_admin).limit(1)
        return conn.execute(statement).first() is not None

    def hash_password(self, password: str) -> str:
        """Validate and hash a new password (before a transaction: hashing is slow)."""
        validate_password(password)
        return self._hasher.hash(password)

    # -- writes -------------------------------------------------------------------------

    def create_user(self, *, email: str, password: str, is_admin: bool = False) -> UserRecord:
        """Create a user.

        Raises:
            ValidationError: bad email or password.
            ConflictError: the email address is taken.
        """
        email = normalize_email(email)
        validate_password(password)
        password_hash = self._hasher.hash(password)
        with self._unique_email(), self._db.write() as conn:
            user = self.insert(conn, email=email, password_hash=password_hash, is_admin=is_admin)
        self.remember(user)
        return user

    def insert(
        self, conn: sa.Connection, *, email: str, password_hash: str, is_admin: bool
    ) -> UserRecord:
        """Insert a user inside the caller's transaction (inputs already validated)."""
        if conn.execute(sa.select(_user.c.id).where(_user.c.email == email)).first():
            raise ConflictError("Email already registered")
        now = utcnow()
        values = {
            "id": uuid7(),
            "email": email,
            "password_hash": password_hash,
            "is_admin": is_admin,
            "token_version": 0,
            "created_at": now,
            "updated_at": now,
        }
        conn.execute(sa.insert(_user).values(**values))
        user = _record(values)
        for listener in self.created_listeners:
            self._db.after_commit(functools.partial(listener, user))
        return user

    def update_user(
        self,
        user_id: str,
        *,
        email: str | None = None,
        password: str | None = None,
        is_admin: bool | None = None,
    ) -> UserRecord:
        """Change a user's email, password or admin flag.

        A new password or a lost admin flag bumps the token version (ending every token of
        the user); a new password also ends every session.

        Raises:
            NotFoundError: no such user.
            ValidationError: bad email or password.
            ConflictError: the email is taken, or this would leave no admin.
        """
        changes: dict[str, Any] = {}
        if email is not None:
            changes["email"] = normalize_email(email)
        if password is not None:
            validate_password(password)
            changes["password_hash"] = self._hasher.hash(password)
        with self._unique_email(), self._db.write() as conn:
            current = self.lock_user(conn, user_id)
            if is_admin is not None and is_admin != current.is_admin:
                if not is_admin:
                    self._ensure_other_admin(conn, user_id)
                changes["is_admin"] = is_admin
            revoke = password is not None or changes.get("is_admin") is False
            user = self.apply(conn, current, changes, revoke_tokens=revoke)
        self.remember(user)
        return user

    def set_password(self, user_id: str, password: str) -> UserRecord:
        """Set a new password, ending every token and session of the user."""
        return self.update_user(user_id, password=password)

    def promote_or_create_admin(self, *, email: str, password: str) -> tuple[UserRecord, bool]:
        """Make ``email`` an admin with ``password``: create the user, or promote them.

        Returns:
            The admin, and True if the user was created.
        """
        email = normalize_email(email)
        password_hash = self.hash_password(password)
        with self._unique_email(), self._db.write() as conn:
            existed = conn.execute(sa.select(_user.c.id).where(_user.c.email == email)).first()
            user = self.make_admin(conn, email=email, password_hash=password_hash)
        self.remember(user)
        return user, existed is None

    def make_admin(self, conn: sa.Connection, *, email: str, password_hash: str) -> UserRecord:
        """Create or promote an admin inside the caller's transaction (inputs validated).

        An existing user gets the new password, and their old tokens and sessions end.
        """
        row = conn.execute(sa.select(_user).where(_user.c.email == email)).first()
        if row is None:
            return self.insert(conn, email=email, password_hash=password_hash, is_admin=True)
        changes = {"password_hash": password_hash, "is_admin": True}
        return self.apply(conn, _record(row), changes, revoke_tokens=True)

    def delete_user(self, user_id: str) -> None:
        """Delete a user; their sessions and reset tokens go with them (ON DELETE CASCADE).

        Raises:
            NotFoundError: no such user.
            ConflictError: the user is the last admin.
        """
        with self._db.write() as conn:
            current = self.lock_user(conn, user_id)
            if current.is_admin:
                self._ensure_other_admin(conn, user_id)
            conn.execute(sa.delete(_user).where(_user.c.id == current.id))
        self._revocation.remember_user(current.id, None)

    def apply(
        self,
        conn: sa.Connection,
        current: UserRecord,
        changes: dict[str, Any],
        *,
        revoke_tokens: bool,
    ) -> UserRecord:
        """Write ``changes`` to a user inside the caller's transaction.

        With ``revoke_tokens``, the token version moves on and every session is revoked. A
        new password or email address ends every pending password-reset token of the user.
        """
        values = {**changes, "updated_at": utcnow()}
        if "password_hash" in changes or "email" in changes:
            pending = sa.and_(_reset.c.user_id == current.id, _reset.c.used_at.is_(None))
            conn.execute(sa.delete(_reset).where(pending))
        if revoke_tokens:
            values["token_version"] = current.token_version + 1
            families = revoke_user_sessions(conn, current.id)
            self._revocation.remember_revoked_sessions(families)
        conn.execute(sa.update(_user).where(_user.c.id == current.id).values(**values))
        row = conn.execute(sa.select(_user).where(_user.c.id == current.id)).one()
        return _record(row)

    def revoke_tokens(self, user_id: str) -> None:
        """End every token and session of a user (logout everywhere)."""
        with self._db.write() as conn:
            user = self.apply(conn, self.lock_user(conn, user_id), {}, revoke_tokens=True)
        self.remember(user)

    # -- steps --------------------------------------------------------------------------

    def _find(self, condition: sa.ColumnElement[bool]) -> UserRecord | None:
        with self._db.read() as conn:
            row = conn.execute(sa.select(_user).where(condition)).first()
        return None if row is None else _record(row)

    def lock_user(self, conn: sa.Connection, user_id: str) -> UserRecord:
        """Read and lock a user row in the caller's transaction; NotFoundError if missing."""
        row = None
        if is_user_id(user_id):
            statement = sa.select(_user).where(_user.c.id == user_id).with_for_update()
            row = conn.execute(statement).first()
        if row is None:
            raise NotFoundError("User not found")
        return _record(row)

    @staticmethod
    def _ensure_other_admin(conn: sa.Connection, user_id: str) -> None:
        # Locking every admin row (PostgreSQL; SQLite serializes writers anyway) stops two
        # concurrent demotions from each seeing the other admin and leaving none.
        admins = conn.execute(
            sa.select(_user.c.id).where(_user.c.is_admin).with_for_update()
        ).scalars()
        if not any(str(admin_id) != user_id for admin_id in admins):
            raise ConflictError("The last admin cannot be demoted or deleted")

    @contextmanager
    def _unique_email(self) -> Iterator[None]:
        # Two concurrent registrations of one address both pass the lookup; the unique
        # index catches the second one.
        try:
            yield
        except sa.exc.IntegrityError as exc:
            raise ConflictError("Email already registered") from exc

    def remember(self, user: UserRecord) -> None:
        """Tell this process's revocation cache about a committed change."""
        self._revocation.remember_user(user.id, UserTokenState(user.token_version, user.is_admin))


def _record(row: Any) -> UserRecord:
    values = row if isinstance(row, dict) else row._mapping
    return UserRecord(
        id=str(values["id"]),
        email=values["email"],
        is_admin=bool(values["is_admin"]),
        token_version=values["token_version"],
        created_at=values["created_at"],
        updated_at=values["updated_at"],
        password_hash=values["password_hash"],
    )
