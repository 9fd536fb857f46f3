"""Access tokens: short-lived EdDSA (Ed25519) JWTs, verified without a database query.

One token format serves both API families (TrailBase calls it ``auth_token``). Claims:
``sub`` (user id), ``iat``, ``exp``, ``type: "access"``, ``ver`` (the user's token version),
``admin``, ``sid`` (the refresh-token session family), and TrailBase's ``email``,
``username`` (always null) and ``csrf_token``.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tinybase.auth.principal import Principal
from tinybase.auth.revocation import RevocationCache, is_user_id
from tinybase.errors import AuthenticationError
from tinybase.utils import utcnow

__all__ = ["ACCESS_TOKEN_TYPE", "VERIFIED_CACHE_SIZE", "AccessToken", "TokenService"]

ACCESS_TOKEN_TYPE = "access"
# The only algorithm ever accepted. Pinning it rejects "alg: none" and the HS256-with-the-
# public-key confusion attack, whatever the token's header claims.
_ALGORITHM = "EdDSA"
_REQUIRED_CLAIMS = ["sub", "iat", "exp", "type", "ver", "sid"]
_INVALID = "Invalid or expired token"
# Verified claims are remembered by token string (see TokenService._verified). Bounded so that
# a flood of distinct valid tokens costs memory once, not without end.
VERIFIED_CACHE_SIZE = 4096


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
        self._verified: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._verified_guard = threading.Lock()

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

    def verify_in_memory(self, token: str) -> Principal | None:
        """:meth:`verify` when it needs no database read (safe on the event loop), else None.

        None means the token's user is not in the revocation cache yet (or the token is
        newer than the cached version): call :meth:`verify` in a worker thread.

        Raises:
            AuthenticationError: as for :meth:`verify`.
        """
        claims = self.claims(token)
        state = self._revocation.cached_user_state(claims["sub"])
        if state is None or claims["ver"] > state.token_version:
            return None
        return self.principal(claims)

    def claims(self, token: str) -> dict[str, Any]:
        """The verified claims of a valid access token (see :meth:`verify`).

        The signature check (Ed25519, the main cost of a request's authentication) runs once
        per token string; later calls find the claims in a bounded LRU cache. Only a token
        that verified is ever cached, and expiry is checked again on every call; revocation
        is checked by :meth:`principal` on every request, cached or not.
        """
        claims = self._cached_claims(token)
        if claims is None:
            claims = self._decode(token)
            self._remember(token, claims)
        elif claims["exp"] <= time.time():
            raise AuthenticationError(_INVALID)
        return claims

    def _decode(self, token: str) -> dict[str, Any]:
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

    def _cached_claims(self, token: str) -> dict[str, Any] | None:
        with self._verified_guard:
            claims = self._verified.get(token)
            if claims is not None:
                self._verified.move_to_end(token)
            return claims

    def _remember(self, token: str, claims: dict[str, Any]) -> None:
        if not isinstance(claims["exp"], (int, float)):
            return  # PyJWT checked it; a non-number cannot be re-checked cheaply: no caching
        with self._verified_guard:
            self._verified[token] = claims
            if len(self._verified) > VERIFIED_CACHE_SIZE:
                self._verified.popitem(last=False)

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
