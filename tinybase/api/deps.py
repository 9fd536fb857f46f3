"""Shared request dependencies, as ``Annotated`` aliases for handlers' signatures."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tinybase.api.state import AppState
from tinybase.auth.principal import ANONYMOUS, Principal
from tinybase.errors import AuthenticationError, PermissionDeniedError

__all__ = ["AdminUser", "BearerToken", "CurrentPrincipal", "CurrentUser", "State"]


def get_state(request: Request) -> AppState:
    return request.app.state.tinybase


State = Annotated[AppState, Depends(get_state)]

# Declared for the OpenAPI docs only ("Authorize" button); the header is parsed below, so
# that a malformed header is a 401 rather than silently anonymous.
_bearer = HTTPBearer(auto_error=False, description="An access token (`/api/auth/login`).")


def get_bearer_token(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> str | None:
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


BearerToken = Annotated[str | None, Depends(get_bearer_token)]


def get_principal(token: BearerToken, state: State) -> Principal:
    """The caller: anonymous without an ``Authorization`` header, else a verified token.

    Raises:
        AuthenticationError: the header is present but not a valid access token (never
            silently anonymous: a client with a broken token must learn about it).
    """
    return ANONYMOUS if token is None else state.tokens.verify(token)


def get_current_user(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    """The caller, who must be logged in (401 otherwise)."""
    if not principal.is_authenticated:
        raise AuthenticationError()
    return principal


def get_admin_user(principal: Annotated[Principal, Depends(get_current_user)]) -> Principal:
    """The caller, who must be an admin (401 anonymous, 403 otherwise)."""
    if not principal.is_admin:
        raise PermissionDeniedError("Admin access required")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
CurrentUser = Annotated[Principal, Depends(get_current_user)]
AdminUser = Annotated[Principal, Depends(get_admin_user)]
