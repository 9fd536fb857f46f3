"""Password reset by email: a single-use token, stored hashed, that ends every session.

Both steps are open to anyone, so each is cheap until it has a reason not to be: a request
mails at most ``mail_limiter``'s allowance per address (silently, like an unknown address),
and a confirmation looks its token up before it pays for an argon2id hash.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from urllib.parse import urlencode

import sqlalchemy as sa

from tinybase.auth.mail import Mailer
from tinybase.auth.ratelimit import SlidingWindowLimiter
from tinybase.auth.sessions import hash_token
from tinybase.auth.users import UserService, normalize_email, validate_password
from tinybase.data import Database
from tinybase.db.models import PasswordReset
from tinybase.errors import BadRequestError, ValidationError
from tinybase.utils import utcnow

__all__ = ["RESET_TOKEN_TTL", "PasswordResetService"]

RESET_TOKEN_TTL = timedelta(hours=1)

logger = logging.getLogger("tinybase.auth")

_reset = PasswordReset.__table__
_INVALID_TOKEN = "Invalid or expired reset token"


class PasswordResetService:
    """Requests and confirms password resets.

    Args:
        db: the instance database.
        users: changes the password (which bumps the token version, ends sessions).
        mailer: delivers the link.
        mail_limiter: how many links one address may be sent (per its window).
        public_url: the instance's configured public URL; links are built from it and never
            from a request's Host header, which an attacker could set to their own site.
    """

    def __init__(
        self,
        db: Database,
        users: UserService,
        mailer: Mailer,
        *,
        mail_limiter: SlidingWindowLimiter,
        public_url: str,
    ) -> None:
        self._db = db
        self._users = users
        self._mailer = mailer
        self._mail_limiter = mail_limiter
        self._public_url = public_url.rstrip("/")

    def request(self, email: str) -> None:
        """Send a reset link if ``email`` belongs to a user; do nothing visible otherwise.

        Past the per-address allowance nothing is sent either, and nothing tells: the address
        is counted whether or not it is registered, so being limited reveals nothing, and a
        stranger cannot fill a user's mailbox with links.
        """
        try:
            address = normalize_email(email)
        except ValidationError:
            return
        if self._mail_limiter.try_acquire(("address", address)) is None:
            logger.info("password reset mail limit reached for %s; nothing sent", address)
            return
        user = self._users.find_by_email(address)
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

        The token is looked up before the password is hashed: a made-up token costs a
        SHA-256 and one indexed read, not 64 MiB of argon2id. Every other pending reset
        token of the user ends with the password change (see ``UserService.apply``).

        Raises:
            ValidationError: the new password is too short.
            BadRequestError: unknown, used or expired token.
        """
        validate_password(password)
        token_hash = hash_token(token)
        if self._pending_user_id(token_hash) is None:
            raise BadRequestError(_INVALID_TOKEN)
        changes = {"password_hash": self._users.hash_password(password)}
        with self._db.write() as conn:
            # The conditional UPDATE spends the token exactly once, even under races.
            spent = conn.execute(
                sa.update(_reset)
                .where(_pending(token_hash))
                .values(used_at=utcnow())
                .returning(_reset.c.user_id)
            ).scalar()
            if spent is None:  # spent or ended by another request since the lookup
                raise BadRequestError(_INVALID_TOKEN)
            current = self._users.lock_user(conn, str(spent))
            user = self._users.apply(conn, current, changes, revoke_tokens=True)
        self._users.remember(user)

    def _pending_user_id(self, token_hash: str) -> str | None:
        with self._db.read() as conn:
            statement = sa.select(_reset.c.user_id).where(_pending(token_hash))
            user_id = conn.execute(statement).scalar()
        return None if user_id is None else str(user_id)

    def _body(self, token: str) -> str:
        link = f"{self._public_url}/reset-password?{urlencode({'token': token})}"
        return (
            "Someone asked to reset the password of your account.\n\n"
            f"To choose a new password, open this link within one hour:\n{link}\n\n"
            "If it was not you, ignore this message."
        )


def _pending(token_hash: str) -> sa.ColumnElement[bool]:
    """The reset row of ``token_hash``, if it is neither used nor expired."""
    return sa.and_(
        _reset.c.token_hash == token_hash,
        _reset.c.used_at.is_(None),
        _reset.c.expires_at > utcnow(),
    )
