"""Shared request dependencies, as ``Annotated`` aliases for handlers' signatures.

Every dependency here is ``async def`` on purpose: FastAPI runs a sync dependency in the
thread pool, a thread hop (tens of microseconds, and GIL hand-offs) per dependency per
request. These are CPU-light (a header, a cached token, a dict lookup); the only blocking
step, loading a user's token version on first sight, is sent to a worker thread.
"""

from __future__ import annotations

import functools
import ipaddress
from typing import Annotated, Any

import anyio.to_thread
from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tinybase.api.state import AppState
from tinybase.auth.principal import ANONYMOUS, Principal
from tinybase.errors import AuthenticationError, PermissionDeniedError
from tinybase.functions.call_tokens import CALL_TOKEN_PREFIX

__all__ = [
    "ANONYMOUS_TOO_DOCS",
    "BEARER_DOCS",
    "AdminUser",
    "BearerToken",
    "ClientIp",
    "CurrentPrincipal",
    "CurrentUser",
    "State",
    "app_state",
    "bearer_token",
    "client_ip",
    "get_principal",
]


def app_state(request: Request) -> AppState:
    """The running instance's state (also usable outside dependency injection)."""
    return request.app.state.tinybase


async def get_state(request: Request) -> AppState:
    return app_state(request)


State = Annotated[AppState, Depends(get_state)]


def client_ip(request: Request) -> str:
    """The peer's IP address, the key of per-client limits.

    The socket's peer, never a header the client sets; behind a reverse proxy, uvicorn's
    ``--proxy-headers`` (trusted proxies only) makes it the real client's. An IPv6 peer is
    keyed by its /64: one subscriber gets at least a /64 and may use any of its 2**64
    addresses, so a per-address key would give each of its requests a fresh allowance.
    """
    host = request.client.host if request.client else "unknown"
    return _ipv6_client(host) if ":" in host else host


@functools.lru_cache(maxsize=4096)
def _ipv6_client(host: str) -> str:
    """The /64 network of an IPv6 address (an IPv4-mapped one: its IPv4 address)."""
    try:
        address = ipaddress.IPv6Address(host.split("%", 1)[0])
    except ValueError:
        return host
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.IPv6Network((address, 64), strict=False))


async def get_client_ip(request: Request) -> str:
    """:func:`client_ip` as a dependency."""
    return client_ip(request)


ClientIp = Annotated[str, Depends(get_client_ip)]

# Declared for the OpenAPI docs only ("Authorize" button); the header is parsed below, so
# that a malformed header is a 401 rather than silently anonymous.
_bearer = HTTPBearer(auto_error=False, description="An access token (`/api/auth/login`).")
_Credentials = Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]
BEARER_DOCS: dict[str, Any] = {"security": [{"HTTPBearer": []}, {}]}
"""``openapi_extra`` for routes that take :data:`CurrentPrincipal` or call
:func:`get_principal` themselves: a bearer token, or none (``{}``: anonymous calls are
answered too, as far as the access rules allow)."""
ANONYMOUS_TOO_DOCS: dict[str, Any] = {"security": [{}]}
"""``openapi_extra`` for routes that take :data:`BearerToken`: FastAPI appends this to the
bearer scheme the dependency declares, making the token optional in the docs."""


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header, None without the header.

    Raises:
        AuthenticationError: the header is present but not ``Bearer <token>``.
    """
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError()
    return token.strip()


async def get_bearer_token(request: Request, _credentials: _Credentials) -> str | None:
    """:func:`bearer_token` as a dependency."""
    return bearer_token(request)


BearerToken = Annotated[str | None, Depends(get_bearer_token)]


async def get_principal(request: Request) -> Principal:
    """The caller: anonymous without an ``Authorization`` header, else a verified token.

    One dependency, not a chain (token, state, the docs-only ``HTTPBearer``): FastAPI's
    cost is per dependency solved, and this one runs on every request. Routes that take
    the principal show the bearer scheme in the OpenAPI docs through ``BEARER_DOCS``
    (record routes) or :func:`get_current_user` (which declares it).

    Raises:
        AuthenticationError: the header is present but not a valid access token (never
            silently anonymous: a client with a broken token must learn about it).
    """
    token = bearer_token(request)
    if token is None:
        return ANONYMOUS
    state = app_state(request)
    if token.startswith(CALL_TOKEN_PREFIX):  # an isolated function's client, as its caller
        called = state.functions.isolated.tokens.principal(token) if state.functions else None
        if called is None:
            raise AuthenticationError("Invalid or expired token")
        return called
    tokens = state.tokens
    principal = tokens.verify_in_memory(token)
    if principal is None:  # the user's token version is not cached yet: a database read
        principal = await anyio.to_thread.run_sync(tokens.verify, token)
    return principal


async def get_current_user(
    principal: Annotated[Principal, Depends(get_principal)], _credentials: _Credentials
) -> Principal:
    """The caller, who must be logged in (401 otherwise)."""
    if not principal.is_authenticated:
        raise AuthenticationError()
    return principal


async def get_admin_user(principal: Annotated[Principal, Depends(get_current_user)]) -> Principal:
    """The caller, who must be an admin (401 anonymous, 403 otherwise)."""
    if not principal.is_admin:
        raise PermissionDeniedError("Admin access required")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
CurrentUser = Annotated[Principal, Depends(get_current_user)]
AdminUser = Annotated[Principal, Depends(get_admin_user)]
