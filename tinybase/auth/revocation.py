"""Revocation without a database query per request: a per-process cache kept fresh by polling.

Access tokens carry the user's ``token_version`` (``ver``), their admin flag and their
session family (``sid``). Each process keeps ``{user_id: (token_version, is_admin)}`` and the
set of recently revoked session families in memory. A background task polls, every
``auth_revocation_poll_seconds``, the users changed since the last poll (an indexed range
query on ``_user.updated_at``) and the sessions revoked since then (``_session.revoked_at``).
Whatever bumps a token version (logout-all, password change or reset, demotion) or revokes a
session (logout, refresh-token reuse) is therefore seen by every process within one poll
interval, and at once by the process that made the change.

A poll reads a snapshot that may predate a change this process has just made and
remembered; such a read never overwrites the newer state (each local change is stamped,
and a read only stores users not changed locally since the read began).
"""

from __future__ import annotations

import itertools
import logging
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import anyio
import anyio.to_thread
import sqlalchemy as sa

from tinybase.data import Database
from tinybase.db.models import User, UserSession
from tinybase.utils import utcnow

__all__ = ["RevocationCache", "UserTokenState", "is_user_id"]

logger = logging.getLogger("tinybase.auth")

_user = User.__table__
_session = UserSession.__table__

# A change stamped at time t may commit a little later (or on a host whose clock is a little
# behind); re-reading a window before the last poll makes sure it is never skipped.
_OVERLAP = timedelta(seconds=10)
# Deleted users leave no row to find by ``updated_at``: every so often the cached users are
# re-read as a whole, and the missing ones are forgotten (their tokens fail from then on).
_FULL_REFRESH = timedelta(seconds=60)
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class UserTokenState:
    """What an access token is checked against: the current version and admin flag."""

    token_version: int
    is_admin: bool


class RevocationCache:
    """The in-memory view of token versions and revoked sessions of one process.

    Args:
        db: the instance database.
        poll_seconds: how often :meth:`run` polls for changes.
        access_ttl: the access-token lifetime; revoked sessions are remembered that long.
    """

    def __init__(self, db: Database, *, poll_seconds: float, access_ttl: timedelta) -> None:
        self._db = db
        self._poll_seconds = poll_seconds
        self._access_ttl = access_ttl
        self._lock = threading.Lock()
        self._users: dict[str, UserTokenState | None] = {}
        # user id -> stamp of this process's last change to it (see ``_store_read``)
        self._changed_here: dict[str, int] = {}
        self._stamps = itertools.count(1)
        self._revoked_sessions: dict[str, datetime] = {}
        self._last_poll = utcnow()
        self._last_full_refresh = self._last_poll

    # -- lookups on the request path ----------------------------------------------------

    def user_state(self, user_id: str, *, reload: bool = False) -> UserTokenState | None:
        """The current state of ``user_id`` (None if no such user).

        Known users are answered from memory; a user seen for the first time (or with
        ``reload=True``) is read once from the database and remembered.
        """
        if not reload:
            with self._lock:
                if user_id in self._users:
                    return self._users[user_id]
        stamp = self._read_stamp()
        found = self._load_users([user_id])
        self._store_read({user_id: found.get(user_id)}, stamp)
        with self._lock:
            return self._users[user_id]

    def cached_user_state(self, user_id: str) -> UserTokenState | None:
        """The state of ``user_id`` if this process knows it (no database read), else None.

        None also for a user known not to exist; :meth:`user_state` tells those apart.
        """
        with self._lock:
            return self._users.get(user_id)

    def is_session_revoked(self, session_id: str) -> bool:
        """True if the session family ``session_id`` was revoked recently."""
        with self._lock:
            return session_id in self._revoked_sessions

    # -- updates from this process (effective at once) ----------------------------------

    def remember_user(self, user_id: str, state: UserTokenState | None) -> None:
        """Record the current state of a user this process just read or changed."""
        with self._lock:
            self._users[user_id] = state
            self._changed_here[user_id] = next(self._stamps)

    def remember_revoked_sessions(self, session_ids: Iterable[str]) -> None:
        """Record session families this process just revoked."""
        now = utcnow()
        with self._lock:
            for session_id in session_ids:
                self._revoked_sessions[session_id] = now

    # -- polling ------------------------------------------------------------------------

    def poll(self) -> None:
        """Read the users changed and sessions revoked since the last poll."""
        started = utcnow()
        since = self._last_poll - _OVERLAP
        stamp = self._read_stamp()
        with self._db.read() as conn:
            changed = conn.execute(
                sa.select(_user.c.id, _user.c.token_version, _user.c.is_admin).where(
                    _user.c.updated_at >= since
                )
            ).all()
            revoked = conn.execute(
                sa.select(_session.c.family_id).where(_session.c.revoked_at >= since).distinct()
            ).scalars()
            revoked_ids = [str(family_id) for family_id in revoked]
        self._store_read(
            {str(row.id): UserTokenState(row.token_version, row.is_admin) for row in changed},
            stamp,
        )
        self.remember_revoked_sessions(revoked_ids)
        self._forget_expired_revocations(started)
        self._last_poll = started
        if started - self._last_full_refresh >= _FULL_REFRESH:
            self._refresh_all_users()
            self._last_full_refresh = started

    async def run(self) -> None:
        """Poll forever (started in the app's task group; cancelled at shutdown)."""
        while True:
            await anyio.sleep(self._poll_seconds)
            try:
                await anyio.to_thread.run_sync(self.poll)
            except sa.exc.SQLAlchemyError:
                # A transient database error must not stop revocation for good: log, retry.
                logger.warning("token revocation poll failed; retrying", exc_info=True)

    def load_recent_revocations(self) -> None:
        """At start-up: remember the sessions revoked within one access-token lifetime."""
        with self._db.read() as conn:
            revoked = conn.execute(
                sa.select(_session.c.family_id)
                .where(_session.c.revoked_at >= utcnow() - self._access_ttl)
                .distinct()
            ).scalars()
            self.remember_revoked_sessions(str(family_id) for family_id in revoked)

    def _forget_expired_revocations(self, now: datetime) -> None:
        # Tokens of a session revoked longer than one access-token lifetime ago have expired.
        horizon = now - self._access_ttl - _OVERLAP
        with self._lock:
            for session_id, revoked_at in list(self._revoked_sessions.items()):
                if revoked_at < horizon:
                    del self._revoked_sessions[session_id]

    def _refresh_all_users(self) -> None:
        with self._lock:
            user_ids = list(self._users)
        for start in range(0, len(user_ids), _CHUNK):
            chunk = user_ids[start : start + _CHUNK]
            stamp = self._read_stamp()
            found = self._load_users(chunk)
            self._store_read({user_id: found.get(user_id) for user_id in chunk}, stamp)

    def _read_stamp(self) -> int:
        """The stamp a database read starts at (taken before the read)."""
        with self._lock:
            return next(self._stamps)

    def _store_read(self, states: Mapping[str, UserTokenState | None], stamp: int) -> None:
        """Store states read from the database, except users changed here since ``stamp``."""
        with self._lock:
            for user_id, state in states.items():
                if self._changed_here.get(user_id, 0) < stamp:
                    self._users[user_id] = state

    def _load_users(self, user_ids: list[str]) -> dict[str, UserTokenState]:
        valid = [user_id for user_id in user_ids if is_user_id(user_id)]
        if not valid:
            return {}
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(_user.c.id, _user.c.token_version, _user.c.is_admin).where(
                    _user.c.id.in_(valid)
                )
            ).all()
        return {str(row.id): UserTokenState(row.token_version, row.is_admin) for row in rows}


def is_user_id(value: str) -> bool:
    """True if ``value`` is a UUID in canonical (lower-case, hyphenated) text."""
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False
