"""Password reset by email: a single-use token, stored hashed, that ends every session."""

from __future__ import annotations

import secrets
from datetime import timedelta
from urllib.parse import urlencode

import sqlalchemy as sa

from tinybase.auth.mail import Mailer
from tinybase.auth.sessions import hash_token
from tinybase.auth.users import UserService, normalize_email, validate_password
from tinybase.data import Database
from tinybase.db.models import PasswordReset
from tinybase.errors import BadRequestError, ValidationError
from tinybase.utils import utcnow

__all__ = ["RESET_TOKEN_TTL", "PasswordResetService"]

RESET_TOKEN_TTL = timedelta(hours=1)

_reset = PasswordReset.__table__


class PasswordResetService:
    """Requests and confirms password resets.

    Args:
        db: the instance database.
        users: changes the password (which bumps the token version, ends sessions).
        mailer: delivers the link.
        public_url: the instance's configured public URL; links are built from it and never
            from a request's Host header, which an attacker could set to their own site.
    """

    def __init__(
        self, db: Database, users: UserService, mailer: Mailer, *, public_url: str
    ) -> None:
        self._db = db
        self._users = users
        self._mailer = mailer
        self._public_url = public_url.rstrip("/")

    def request(self, email: str) -> None:
        """Send a reset link if ``email`` belongs to a user; do nothing visible otherwise."""
        try:
            user = self._users.find_by_email(normalize_email(email))
        except ValidationError:
            user = None
        if user is None:
            return
        token = secrets.token_urlsafe(32)
        now = utcnow()
        with self._db.write() as conn:
            conn.execute(
                sa.insert(_reset).values(
                    token_hash=hash_token(token),
                    user_id=user.id,
                    created_at=now,
                    expires_at=now + RESET_TOKEN_TTL,
                )
            )
        self._mailer.send(to=user.email, subject="Reset your password", body=self._body(token))

    def confirm(self, token: str, password: str) -> None:
        """Set a new password with a reset token; the token is spent, every session ends.

        Raises:
            ValidationError: the new password is too short.
            BadRequestError: unknown, used or expired token.
        """
        validate_password(password)
        changes = {"password_hash": self._users.hash_password(password)}
        with self._db.write() as conn:
            # The conditional UPDATE spends the token exactly once, even under races.
            spent = conn.execute(
                sa.update(_reset)
                .where(
                    _reset.c.token_hash == hash_token(token),
                    _reset.c.used_at.is_(None),
                    _reset.c.expires_at > utcnow(),
                )
                .values(used_at=utcnow())
                .returning(_reset.c.user_id)
            ).scalar()
            if spent is None:
                raise BadRequestError("Invalid or expired reset token")
            current = self._users.lock_user(conn, str(spent))
            user = self._users.apply(conn, current, changes, revoke_tokens=True)
        self._users.remember(user)

    def _body(self, token: str) -> str:
        link = f"{self._public_url}/reset-password?{urlencode({'token': token})}"
        return (
            "Someone asked to reset the password of your account.\n\n"
            f"To choose a new password, open this link within one hour:\n{link}\n\n"
            "If it was not you, ignore this message."
        )
