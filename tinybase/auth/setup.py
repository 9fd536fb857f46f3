"""The first admin: a one-time setup token printed by ``tinybase serve`` when none exists.

No HTTP call creates an admin merely by logging in or registering first: whoever redeems
``POST /api/admin/setup`` must hold the token that only the server's console showed.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta
from urllib.parse import urlencode

import sqlalchemy as sa

from tinybase.auth.instance_secrets import delete_secret, read_secret, replace_secret
from tinybase.auth.sessions import hash_token
from tinybase.auth.users import UserRecord, UserService, normalize_email, validate_password
from tinybase.data import Database
from tinybase.errors import ConflictError, PermissionDeniedError
from tinybase.settings import Config
from tinybase.utils import utcnow

__all__ = [
    "SETUP_TOKEN_SECRET",
    "SETUP_TOKEN_TTL",
    "SetupService",
    "ensure_setup_token",
    "listening_url",
    "setup_url",
]

SETUP_TOKEN_SECRET = "auth.setup_token"
SETUP_TOKEN_TTL = timedelta(hours=24)


def ensure_setup_token(db: Database, config: Config) -> str | None:
    """A fresh setup token if no admin exists (replacing any earlier one), else None.

    Only the token's hash and expiry are stored (in ``_secret``): the plain token exists
    only in the console output. When an admin exists, any leftover token is deleted.

    Args:
        db: the instance database (migrated).
        config: the instance configuration (for symmetry with ``setup_url``).
    """
    with db.write() as conn:
        if UserService.admin_exists_in(conn):
            delete_secret(conn, SETUP_TOKEN_SECRET)
            return None
        token = secrets.token_urlsafe(32)
        expires_at = utcnow() + SETUP_TOKEN_TTL
        replace_secret(conn, SETUP_TOKEN_SECRET, f"{hash_token(token)} {expires_at.isoformat()}")
    return token


def setup_url(
    config: Config, token: str, *, host: str | None = None, port: int | None = None
) -> str:
    """The URL to print for a setup token (the admin UI's setup page).

    Its base is ``public_url`` when the file, the environment or the caller set it; else
    the address the server listens on (``public_url``'s default names port 8000, wrong for
    ``tinybase serve --port 8766``).

    Args:
        config: the instance configuration.
        token: the plain setup token.
        host: the interface the server listens on (default: ``server_host``).
        port: the port it listens on (default: ``server_port``).
    """
    if "public_url" in config.model_fields_set:
        base = config.public_url.rstrip("/")
    else:
        base = listening_url(host or config.server_host, port or config.server_port)
    return f"{base}/admin/setup?{urlencode({'token': token})}"


def listening_url(host: str, port: int) -> str:
    """``http://host:port`` for a server listening there, reachable from this machine.

    The unspecified addresses (all interfaces) become the loopback address of their family;
    an IPv6 address is bracketed.
    """
    host = _LOOPBACK.get(host, host)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


_LOOPBACK = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}


class SetupService:
    """Redeems the setup token once, creating the first admin."""

    def __init__(self, db: Database, users: UserService) -> None:
        self._db = db
        self._users = users

    def redeem(self, *, token: str, email: str, password: str) -> UserRecord:
        """Create (or promote) the first admin with a valid setup token; spend the token.

        The token is checked before the password is hashed: a made-up token costs a SHA-256
        and a read, not an argon2id hash. It is checked again in the write, where the token
        is spent, so two concurrent redemptions cannot both succeed.

        Raises:
            ValidationError: bad email or password.
            ConflictError: an admin exists already.
            PermissionDeniedError: wrong or expired token.
        """
        email = normalize_email(email)
        validate_password(password)
        with self._db.read() as conn:
            _check_redeemable(conn, token)
        password_hash = self._users.hash_password(password)
        with self._db.write() as conn:
            _check_redeemable(conn, token)
            delete_secret(conn, SETUP_TOKEN_SECRET)
            user = self._users.make_admin(conn, email=email, password_hash=password_hash)
        self._users.remember(user)
        return user


def _check_redeemable(conn: sa.Connection, token: str) -> None:
    if UserService.admin_exists_in(conn):
        raise ConflictError("An admin already exists")
    if not _matches(read_secret(conn, SETUP_TOKEN_SECRET), token):
        raise PermissionDeniedError("Invalid or expired setup token")


def _matches(stored: str | None, token: str) -> bool:
    if not stored:
        return False
    expected_hash, _, expires_at = stored.partition(" ")
    if datetime.fromisoformat(expires_at) <= utcnow():
        return False
    return hmac.compare_digest(expected_hash, hash_token(token))
