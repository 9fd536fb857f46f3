"""Routes under /api/auth: registration, login, tokens, password changes and resets.

POST /api/auth/register                 {email, password} -> 201 {id, email}
POST /api/auth/login                    {email, password} -> tokens and user
POST /api/auth/refresh                  {refresh_token} -> a new pair (rotation)
POST /api/auth/logout                   {refresh_token} | {"all": true} -> 204
GET  /api/auth/me                       -> the caller
POST /api/auth/change-password          {current_password, new_password} -> a new pair
POST /api/auth/password-reset/request   {email} -> 202 (same answer for unknown emails)
POST /api/auth/password-reset/confirm   {token, password} -> 204
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from tinybase.api.bodies import RequestBody
from tinybase.api.deps import BEARER_DOCS, ClientIp, CurrentPrincipal, CurrentUser, State
from tinybase.auth.service import LoginResult
from tinybase.errors import AuthenticationError, ValidationError

router = APIRouter(prefix="/api/auth", tags=["auth"])

RESET_REQUESTED = "If the address belongs to an account, a reset link has been sent to it."


class Credentials(RequestBody):
    email: str
    password: str


class RefreshRequest(RequestBody):
    refresh_token: str


class LogoutRequest(RequestBody):
    refresh_token: str | None = None
    all: bool = False


class ChangePasswordRequest(RequestBody):
    current_password: str
    new_password: str


class ResetRequest(RequestBody):
    email: str


class ResetConfirmation(RequestBody):
    token: str
    password: str


@router.post("/register", status_code=201)
def register(body: Credentials, client_ip: ClientIp, state: State) -> dict[str, Any]:
    """Create an account (403 when registration is turned off)."""
    user = state.auth.register(email=body.email, password=body.password, client_ip=client_ip)
    return {"id": user.id, "email": user.email}


@router.post("/login")
def login(body: Credentials, client_ip: ClientIp, state: State) -> dict[str, Any]:
    """Exchange email and password for an access token and a refresh token."""
    result = state.auth.login(email=body.email, password=body.password, client_ip=client_ip)
    return token_pair(result)


@router.post("/refresh")
def refresh(body: RefreshRequest, state: State) -> dict[str, Any]:
    """Rotate a refresh token: the old one stops working; reusing it ends the session."""
    return token_pair(state.auth.refresh(body.refresh_token))


@router.post("/logout", status_code=204, openapi_extra=BEARER_DOCS)
def logout(body: LogoutRequest, principal: CurrentPrincipal, state: State) -> Response:
    """End one session (by its refresh token) or, with ``all``, every session of the caller."""
    if body.all:
        if not principal.is_authenticated:
            raise AuthenticationError()
        state.auth.logout_all(principal)
    elif body.refresh_token:
        state.auth.logout(body.refresh_token)
    else:
        raise ValidationError.for_field("refresh_token", "Give a refresh_token or all: true")
    return Response(status_code=204)


@router.get("/me")
def me(principal: CurrentUser, state: State) -> dict[str, Any]:
    """The caller's account."""
    return state.auth.me(principal).public()


@router.post("/change-password")
def change_password(
    body: ChangePasswordRequest, principal: CurrentUser, client_ip: ClientIp, state: State
) -> dict[str, Any]:
    """Change the caller's password; every other session ends, this one gets new tokens."""
    result = state.auth.change_password(
        principal,
        current_password=body.current_password,
        new_password=body.new_password,
        client_ip=client_ip,
    )
    return token_pair(result)


@router.post("/password-reset/request", status_code=202)
def request_password_reset(body: ResetRequest, client_ip: ClientIp, state: State) -> dict[str, str]:
    """Mail a reset link; the answer is the same whether or not the account exists."""
    state.auth.request_password_reset(body.email, client_ip=client_ip)
    return {"detail": RESET_REQUESTED}


@router.post("/password-reset/confirm", status_code=204)
def confirm_password_reset(body: ResetConfirmation, client_ip: ClientIp, state: State) -> Response:
    """Set a new password with a reset token (single use; every session ends)."""
    state.auth.confirm_password_reset(token=body.token, password=body.password, client_ip=client_ip)
    return Response(status_code=204)


def token_pair(result: LoginResult) -> dict[str, Any]:
    """The login response: both tokens and the user."""
    return {
        "access_token": result.access.token,
        "refresh_token": result.refresh_token,
        "token_type": "bearer",
        "expires_in": result.access.expires_in,
        "user": {
            "id": result.user.id,
            "email": result.user.email,
            "is_admin": result.user.is_admin,
        },
    }
