"""The auth flows behind ``/api/auth`` and ``/api/auth/v1``: one service, both families."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tinybase.auth.passwords import PasswordHasher
from tinybase.auth.principal import Principal
from tinybase.auth.ratelimit import SlidingWindowLimiter
from tinybase.auth.resets import PasswordResetService
from tinybase.auth.revocation import RevocationCache
from tinybase.auth.sessions import SessionService, SessionToken
from tinybase.auth.setup import SetupService
from tinybase.auth.tokens import AccessToken, TokenService, TokenSubject
from tinybase.auth.users import UserRecord, UserService, validate_password
from tinybase.errors import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
)

__all__ = ["AuthService", "LoginResult", "TokenStatus"]

_BAD_CREDENTIALS = "Invalid email or password"


@dataclass(frozen=True, slots=True)
class LoginResult:
    """What a successful login or refresh hands to the client."""

    user: UserRecord
    access: AccessToken
    refresh_token: str


@dataclass(frozen=True, slots=True)
class TokenStatus:
    """TrailBase's login status: the caller's tokens, or nulls for nobody."""

    auth_token: str | None
    refresh_token: str | None
    csrf_token: str | None


class AuthService:
    """Registration, login, refresh, logout, password changes, resets and the first admin.

    Every flow that checks a secret the caller may be guessing (a password, a reset or setup
    token) counts the attempt before the check, atomically (see ``SlidingWindowLimiter``),
    and gives it back only when the check succeeds.

    Args:
        users, sessions, tokens, resets, setup, revocation: the auth parts (see ``build``).
        hasher: verifies passwords (against a dummy hash for unknown accounts).
        limiter: password guesses (login, password change) per IP and per account.
        token_limiter: anonymous costly calls per IP and flow (registrations, reset requests,
            reset and setup token redemptions).
        registration_allowed: asked on each registration (the runtime setting).

    ``login_listeners`` are called with the user after each successful password login (not
    a refresh), in the caller's thread (extension hooks are wired here at start-up).
    """

    def __init__(
        self,
        *,
        users: UserService,
        sessions: SessionService,
        tokens: TokenService,
        resets: PasswordResetService,
        setup: SetupService,
        revocation: RevocationCache,
        hasher: PasswordHasher,
        limiter: SlidingWindowLimiter,
        token_limiter: SlidingWindowLimiter,
        registration_allowed: Callable[[], bool],
    ) -> None:
        self.users = users
        self.sessions = sessions
        self.tokens = tokens
        self.resets = resets
        self.setup = setup
        self.revocation = revocation
        self._hasher = hasher
        self._limiter = limiter
        self._token_limiter = token_limiter
        self.registration_allowed = registration_allowed
        self.login_listeners: list[Callable[[UserRecord], object]] = []

    def register(self, *, email: str, password: str, client_ip: str) -> UserRecord:
        """Create a normal user.

        Every registration hashes a password with argon2id for an anonymous caller, so each
        one counts against the caller's IP, successful or not (a flood of sign-ups is as
        costly as a flood of logins).

        Raises:
            PermissionDeniedError: registration is turned off.
            RateLimitedError: too many registrations from this IP.
            ValidationError, ConflictError: see ``UserService.create_user``.
        """
        if not self.registration_allowed():
            raise PermissionDeniedError("Registration is disabled")
        self._token_limiter.acquire(("register", client_ip))
        return self.users.create_user(email=email, password=password)

    def login(self, *, email: str, password: str, client_ip: str) -> LoginResult:
        """Check credentials and start a session.

        Raises:
            RateLimitedError: too many failed attempts from this IP or for this account.
            AuthenticationError: wrong email or password (one message for both).
        """
        account = email.strip().lower()
        with _attempt(self._limiter, ("ip", client_ip), ("account", account)):
            user = self.users.find_by_email(account)
            # Unknown accounts are verified against a dummy hash: the same work, the same time.
            if not self._hasher.verify(user.password_hash if user else None, password):
                raise AuthenticationError(_BAD_CREDENTIALS)
        assert user is not None
        result = self._start(user, self.sessions.start(user.id))
        for listener in self.login_listeners:
            listener(user)
        return result

    def refresh(self, refresh_token: str) -> LoginResult:
        """Rotate a refresh token and issue a new pair (see ``SessionService.rotate``)."""
        return self._continue(self.sessions.rotate(refresh_token))

    def reauthenticate(self, refresh_token: str) -> LoginResult:
        """A new access token for a refresh token that stays valid (TrailBase's refresh)."""
        return self._continue(self.sessions.validate(refresh_token))

    def status(self, *, access_token: str | None, refresh_token: str | None) -> TokenStatus:
        """TrailBase's status: a valid access token is echoed; an expired or missing one is
        replaced using a valid refresh token (not rotated); without credentials, nulls.

        Raises:
            AuthenticationError: an invalid access token and no valid refresh token.
        """
        if access_token is not None:
            try:
                claims = self.tokens.claims(access_token)
                self.tokens.principal(claims)
            except AuthenticationError:
                if refresh_token is None:
                    raise
            else:
                return TokenStatus(access_token, refresh_token, claims.get("csrf_token"))
        if refresh_token is None:
            return TokenStatus(None, None, None)
        result = self.reauthenticate(refresh_token)
        return TokenStatus(result.access.token, refresh_token, result.access.csrf_token)

    def logout(self, refresh_token: str) -> None:
        """End the session of ``refresh_token`` (unknown tokens are ignored)."""
        self.sessions.end(refresh_token)

    def logout_all(self, principal: Principal) -> None:
        """End every session and token of the caller, in every process within seconds."""
        self.users.revoke_tokens(_user_id(principal))

    def me(self, principal: Principal) -> UserRecord:
        """The caller's user row."""
        try:
            return self.users.get_user(_user_id(principal))
        except NotFoundError as exc:
            raise AuthenticationError() from exc

    def change_password(
        self, principal: Principal, *, current_password: str, new_password: str, client_ip: str
    ) -> LoginResult:
        """Change the caller's password; every other token and session ends.

        The current password is a guess like a login's (a stolen access token must not be a
        password oracle): it is limited by the same counters, per IP and per account.

        Returns:
            A new session for the caller, so the client that changed it stays logged in.

        Raises:
            RateLimitedError: too many failed attempts from this IP or for this account.
            BadRequestError: the current password is wrong.
            ValidationError: the new password is too short.
        """
        validate_password(new_password, field_name="new_password")
        user = self.me(principal)
        with _attempt(self._limiter, ("ip", client_ip), ("account", user.email)):
            if not self._hasher.verify(user.password_hash, current_password):
                raise BadRequestError("Current password is incorrect")
        user = self.users.set_password(user.id, new_password)
        return self._start(user, self.sessions.start(user.id))

    def request_password_reset(self, email: str, *, client_ip: str) -> None:
        """Mail a reset link if the address is registered (the caller learns nothing).

        Raises:
            RateLimitedError: too many requests from this IP (the per-address limit is
                silent, see ``PasswordResetService.request``).
        """
        self._token_limiter.acquire(("reset-request", client_ip))
        self.resets.request(email)

    def confirm_password_reset(self, *, token: str, password: str, client_ip: str) -> None:
        """Set a new password with a reset token (see ``PasswordResetService.confirm``).

        Raises:
            RateLimitedError: too many failed confirmations from this IP.
        """
        with _attempt(self._token_limiter, ("reset-confirm", client_ip)):
            self.resets.confirm(token, password)

    def setup_first_admin(
        self, *, token: str, email: str, password: str, client_ip: str
    ) -> UserRecord:
        """Create the first admin with the console's setup token (see ``SetupService``).

        Raises:
            RateLimitedError: too many failed attempts from this IP.
        """
        with _attempt(self._token_limiter, ("setup", client_ip)):
            return self.setup.redeem(token=token, email=email, password=password)

    # -- steps --------------------------------------------------------------------------

    def _continue(self, session: SessionToken) -> LoginResult:
        try:
            user = self.users.get_user(session.user_id)
        except NotFoundError as exc:
            raise AuthenticationError("Invalid or expired refresh token") from exc
        return self._start(user, session)

    def _start(self, user: UserRecord, session: SessionToken) -> LoginResult:
        subject = TokenSubject(user.id, user.email, user.is_admin, user.token_version)
        access = self.tokens.issue(subject, session_id=session.session_id)
        return LoginResult(user=user, access=access, refresh_token=session.token)


@contextmanager
def _attempt(limiter: SlidingWindowLimiter, *keys: Hashable) -> Iterator[None]:
    """Count an attempt before the block runs; give it back if the block succeeds.

    A failure (any exception) stays counted: those are the guesses the limit is for.
    """
    attempt = limiter.acquire(*keys)
    yield
    limiter.release(attempt)


def _user_id(principal: Principal) -> str:
    if principal.user_id is None:
        raise AuthenticationError()
    return principal.user_id
