"""Refresh tokens: opaque, stored only as SHA-256 hashes in ``_session``, rotated on use.

Each login starts a session *family*. Refreshing rotates the token within its family (the
old token stops working). Presenting an already rotated token again means that someone kept
a copy of it (the legitimate client never reuses one): the whole family is revoked, which
also ends the thief's access tokens through the ``sid`` claim (see ``revocation``).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from tinybase.auth.revocation import RevocationCache
from tinybase.data import Database
from tinybase.db.models import UserSession
from tinybase.errors import AuthenticationError
from tinybase.utils import utcnow, uuid7

__all__ = ["SessionService", "SessionToken", "hash_token", "revoke_user_sessions"]

_session = UserSession.__table__
logger = logging.getLogger("tinybase.auth")

_INVALID = "Invalid or expired refresh token"


def hash_token(token: str) -> str:
    """The SHA-256 hex digest under which an opaque token is stored.

    A plain hash suffices (no argon2): the tokens carry 256 random bits, so there is nothing
    to brute-force, and a leaked table does not reveal usable tokens.
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class SessionToken:
    """A refresh token handed to a client, with its owner and session family."""

    token: str
    user_id: str
    session_id: str


def revoke_user_sessions(conn: sa.Connection, user_id: str) -> list[str]:
    """Revoke every live session of ``user_id``; return the revoked family ids."""
    families = conn.execute(
        sa.select(_session.c.family_id)
        .where(_session.c.user_id == user_id, _session.c.revoked_at.is_(None))
        .distinct()
    ).scalars()
    family_ids = [str(family_id) for family_id in families]
    conn.execute(
        sa.update(_session)
        .where(_session.c.user_id == user_id, _session.c.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return family_ids


class SessionService:
    """Starts, rotates and ends refresh-token sessions.

    Args:
        db: the instance database.
        revocation: told about revoked families, so their access tokens die at once here.
        ttl: the lifetime of a refresh token (``auth_token_ttl_hours``).
    """

    def __init__(self, db: Database, revocation: RevocationCache, *, ttl: timedelta) -> None:
        self._db = db
        self._revocation = revocation
        self._ttl = ttl

    def start(self, user_id: str) -> SessionToken:
        """Start a new session family for ``user_id`` and return its first refresh token."""
        family_id = str(uuid7())
        with self._db.write() as conn:
            token = self._insert(conn, user_id=user_id, family_id=family_id)
        return SessionToken(token=token, user_id=user_id, session_id=family_id)

    def rotate(self, token: str) -> SessionToken:
        """Exchange a refresh token for the next one of its family.

        Raises:
            AuthenticationError: unknown, expired, revoked or already rotated token; in the
                last case the whole family is revoked first.
        """
        with self._db.write() as conn:
            row = self._live_row(conn, token)
            if row is not None and self._mark_rotated(conn, row.id):
                new_token = self._insert(conn, user_id=str(row.user_id), family_id=row.family_id)
                return SessionToken(new_token, str(row.user_id), str(row.family_id))
        self._revoke_if_reused(token)
        raise AuthenticationError(_INVALID)

    def validate(self, token: str) -> SessionToken:
        """Check a refresh token without rotating it (TrailBase's refresh semantics).

        Raises:
            AuthenticationError: as :meth:`rotate`, including reuse revocation.
        """
        with self._db.read() as conn:
            row = self._live_row(conn, token)
        if row is None:
            self._revoke_if_reused(token)
            raise AuthenticationError(_INVALID)
        return SessionToken(token, str(row.user_id), str(row.family_id))

    def end(self, token: str) -> bool:
        """Revoke the session family of ``token``; False if the token is unknown."""
        with self._db.write() as conn:
            family_id = conn.execute(
                sa.select(_session.c.family_id).where(_session.c.token_hash == hash_token(token))
            ).scalar()
            if family_id is not None:
                self._revoke_family(conn, family_id)
        if family_id is None:
            return False
        self._revocation.remember_revoked_sessions([str(family_id)])
        return True

    # -- steps --------------------------------------------------------------------------

    def _insert(self, conn: sa.Connection, *, user_id: str, family_id: object) -> str:
        token = secrets.token_urlsafe(32)
        now = utcnow()
        conn.execute(
            sa.insert(_session).values(
                id=uuid7(),
                user_id=user_id,
                family_id=family_id,
                token_hash=hash_token(token),
                created_at=now,
                expires_at=now + self._ttl,
            )
        )
        return token

    def _live_row(self, conn: sa.Connection, token: str) -> sa.Row | None:
        return conn.execute(
            sa.select(_session.c.id, _session.c.user_id, _session.c.family_id).where(
                _session.c.token_hash == hash_token(token),
                _session.c.rotated_at.is_(None),
                _session.c.revoked_at.is_(None),
                _session.c.expires_at > utcnow(),
            )
        ).first()

    def _mark_rotated(self, conn: sa.Connection, session_row_id: uuid.UUID) -> bool:
        # The conditional UPDATE makes two concurrent refreshes with one token race safely:
        # only one of them rotates, the other one is treated as a reuse.
        result = conn.execute(
            sa.update(_session)
            .where(_session.c.id == session_row_id, _session.c.rotated_at.is_(None))
            .values(rotated_at=utcnow())
        )
        return result.rowcount == 1

    def _revoke_if_reused(self, token: str) -> None:
        with self._db.read() as conn:
            family_id = conn.execute(
                sa.select(_session.c.family_id).where(
                    _session.c.token_hash == hash_token(token),
                    _session.c.rotated_at.is_not(None),
                )
            ).scalar()
        if family_id is None:
            return
        with self._db.write() as conn:
            self._revoke_family(conn, family_id)
        logger.warning("refresh token reuse: session family %s revoked", family_id)
        self._revocation.remember_revoked_sessions([str(family_id)])

    @staticmethod
    def _revoke_family(conn: sa.Connection, family_id: object) -> None:
        conn.execute(
            sa.update(_session)
            .where(_session.c.family_id == family_id, _session.c.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
