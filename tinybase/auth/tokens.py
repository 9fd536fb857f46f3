"""Access tokens: short-lived EdDSA (Ed25519) JWTs, verified without a database query.

One token format serves both API families (TrailBase calls it ``auth_token``). Claims:
``sub`` (user id), ``iat``, ``exp``, ``type: "access"``, ``ver`` (the user's token version),
``admin``, ``sid`` (the refresh-token session family), and TrailBase's ``email``,
``username`` (always null) and ``csrf_token``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tinybase.auth.principal import Principal
from tinybase.auth.revocation import RevocationCache, is_user_id
from tinybase.errors import AuthenticationError
from tinybase.utils import utcnow

__all__ = ["ACCESS_TOKEN_TYPE", "AccessToken", "TokenService"]

ACCESS_TOKEN_TYPE = "access"
# The only algorithm ever accepted. Pinning it rejects "alg: none" and the HS256-with-the-
# public-key confusion attack, whatever the token's header claims.
_ALGORITHM = "EdDSA"
_REQUIRED_CLAIMS = ["sub", "iat", "exp", "type", "ver", "sid"]
_INVALID = "Invalid or expired token"


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A signed access token and what clients need to know about it."""

    token: str
    expires_in: int
    csrf_token: str


@dataclass(frozen=True, slots=True)
class TokenSubject:
    """Who a token is issued to (a user row reduced to what the claims need)."""

    user_id: str
    email: str
    is_admin: bool
    token_version: int


class TokenService:
    """Issues and verifies access tokens.

    Args:
        signing_key: the instance's Ed25519 key (``signing_key.load_signing_key``).
        revocation: the per-process cache of token versions and revoked sessions.
        ttl: the access-token lifetime (``auth_access_token_ttl_minutes``).
    """

    def __init__(
        self, signing_key: Ed25519PrivateKey, revocation: RevocationCache, *, ttl: timedelta
    ) -> None:
        self._private_key = signing_key
        self._public_key = signing_key.public_key()
        self._revocation = revocation
        self.ttl = ttl

    def issue(self, subject: TokenSubject, *, session_id: str) -> AccessToken:
        """Sign a new access token for ``subject`` within session family ``session_id``."""
        now = utcnow()
        csrf_token = secrets.token_urlsafe(16)
        claims = {
            "sub": subject.user_id,
            "iat": now,
            "exp": now + self.ttl,
            "type": ACCESS_TOKEN_TYPE,
            "ver": subject.token_version,
            "admin": subject.is_admin,
            "sid": session_id,
            "email": subject.email,
            "username": None,
            "csrf_token": csrf_token,
        }
        token = jwt.encode(claims, self._private_key, algorithm=_ALGORITHM)
        return AccessToken(token, int(self.ttl.total_seconds()), csrf_token)

    def verify(self, token: str) -> Principal:
        """The principal of a valid access token.

        Raises:
            AuthenticationError: bad signature or algorithm, expired, not an access token,
                revoked (older token version, revoked session) or an unknown user.
        """
        return self.principal(self.claims(token))

    def claims(self, token: str) -> dict[str, Any]:
        """The verified claims of a valid access token (see :meth:`verify`)."""
        try:
            claims = jwt.decode(
                token,
                self._public_key,
                algorithms=[_ALGORITHM],
                options={"require": _REQUIRED_CLAIMS},
            )
        except jwt.PyJWTError as exc:
            raise AuthenticationError(_INVALID) from exc
        if not _well_formed(claims):
            raise AuthenticationError(_INVALID)
        return claims

    def principal(self, claims: dict[str, Any]) -> Principal:
        """Check verified claims against revocation state; return the caller."""
        user_id, version = claims["sub"], claims["ver"]
        state = self._revocation.user_state(user_id)
        if state is not None and version > state.token_version:
            # Issued by another process after a change this one has not polled yet.
            state = self._revocation.user_state(user_id, reload=True)
        if state is None or version != state.token_version:
            raise AuthenticationError(_INVALID)
        if self._revocation.is_session_revoked(claims["sid"]):
            raise AuthenticationError(_INVALID)
        # The claim is a ceiling: a promotion shows on the next token, a demotion at once.
        is_admin = bool(claims.get("admin")) and state.is_admin
        return Principal(user_id=user_id, is_admin=is_admin, email=claims.get("email"))


def _well_formed(claims: dict[str, Any]) -> bool:
    version = claims["ver"]
    return (
        claims["type"] == ACCESS_TOKEN_TYPE
        and isinstance(claims["sub"], str)
        and is_user_id(claims["sub"])
        and isinstance(version, int)
        and not isinstance(version, bool)
        and isinstance(claims["sid"], str)
    )
