"""Routes under /api/auth/v1, in TrailBase's shape, so TrailBase's client SDKs can log in.

    POST     /api/auth/v1/register   {email, password, password_repeat?} -> 200 "registered"
    POST     /api/auth/v1/login      {email | email_or_username, password}
                                     -> {auth_token, refresh_token, csrf_token}
    POST     /api/auth/v1/refresh    {refresh_token} -> {auth_token, refresh_token, csrf_token}
    GET      /api/auth/v1/logout     Refresh-Token header | Bearer -> 200 "logged out"
    POST     /api/auth/v1/logout     {refresh_token}? | Refresh-Token header | Bearer -> 200
    GET      /api/auth/v1/status     -> {auth_token, refresh_token, csrf_token} or nulls

Same users and sessions as /api/auth. ``auth_token`` is the same EdDSA JWT as /api/auth's
``access_token``. Unlike /api/auth/refresh, refresh here does not rotate the refresh token:
TrailBase's clients keep using the refresh token they logged in with (the npm client even
overwrites a returned one with its old one), so rotating would trip reuse detection and log
them out. The refresh token in the answer is the one presented.

Register and logout answer 200 with TrailBase's plain-text bodies (v0.26 to v0.33 alike):
TrailBase's Python client treats any other status, 201 and 204 included, as an error.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import PlainTextResponse
from pydantic import model_validator

from tinybase.api.bodies import RequestBody
from tinybase.api.deps import ANONYMOUS_TOO_DOCS, BearerToken, ClientIp, State
from tinybase.auth.service import LoginResult
from tinybase.errors import ValidationError

router = APIRouter(prefix="/api/auth/v1", tags=["auth (TrailBase)"])

RefreshTokenHeader = Annotated[str | None, Header(alias="Refresh-Token")]


class RegisterRequest(RequestBody):
    email: str
    password: str
    password_repeat: str | None = None


class LoginRequest(RequestBody):
    email: str | None = None
    email_or_username: str | None = None
    password: str

    @model_validator(mode="after")
    def _one_identifier(self) -> LoginRequest:
        if not (self.email or self.email_or_username):
            raise ValueError("email or email_or_username is required")
        return self


class RefreshRequest(RequestBody):
    refresh_token: str


class LogoutRequest(RequestBody):
    refresh_token: str | None = None


@router.post("/register", response_class=PlainTextResponse)
def register(body: RegisterRequest, client_ip: ClientIp, state: State) -> PlainTextResponse:
    """Create an account (403 when registration is turned off)."""
    if body.password_repeat is not None and body.password_repeat != body.password:
        raise ValidationError.for_field("password_repeat", "Passwords do not match")
    state.auth.register(email=body.email, password=body.password, client_ip=client_ip)
    return PlainTextResponse("registered")


@router.post("/login")
def login(body: LoginRequest, client_ip: ClientIp, state: State) -> dict[str, Any]:
    """Exchange email and password for TrailBase's token triple."""
    email = body.email or body.email_or_username or ""
    return _tokens(state.auth.login(email=email, password=body.password, client_ip=client_ip))


@router.post("/refresh")
def refresh(body: RefreshRequest, state: State) -> dict[str, Any]:
    """A new auth token for a refresh token, which stays valid (TrailBase semantics)."""
    return _tokens(state.auth.reauthenticate(body.refresh_token))


# Two routes rather than one with two methods: each gets its own OpenAPI operation id.
@router.get("/logout", response_class=PlainTextResponse, openapi_extra=ANONYMOUS_TOO_DOCS)
@router.post("/logout", response_class=PlainTextResponse, openapi_extra=ANONYMOUS_TOO_DOCS)
def logout(
    request: Request,
    state: State,
    token: BearerToken,
    refresh_token: RefreshTokenHeader = None,
    body: LogoutRequest | None = None,
) -> PlainTextResponse:
    """End the session of the refresh token given (body or ``Refresh-Token`` header); with
    only an auth token, end every session of its user, as TrailBase does."""
    presented = (body.refresh_token if body else None) or refresh_token
    if presented:
        state.auth.logout(presented)
    elif token is not None:
        state.auth.logout_all(state.tokens.verify(token))
    # TrailBase's bodies: "logged out" for GET, nothing for POST.
    return PlainTextResponse("logged out" if request.method == "GET" else "")


@router.get("/status", openapi_extra=ANONYMOUS_TOO_DOCS)
def status(
    state: State, token: BearerToken, refresh_token: RefreshTokenHeader = None
) -> dict[str, Any]:
    """The caller's tokens (a fresh auth token if only the refresh token is still valid)."""
    current = state.auth.status(access_token=token, refresh_token=refresh_token)
    return {
        "auth_token": current.auth_token,
        "refresh_token": current.refresh_token,
        "csrf_token": current.csrf_token,
    }


def _tokens(result: LoginResult) -> dict[str, Any]:
    return {
        "auth_token": result.access.token,
        "refresh_token": result.refresh_token,
        "csrf_token": result.access.csrf_token,
    }
