"""Wiring: builds the auth services of one process from the database and the config."""

from __future__ import annotations

from datetime import timedelta

from tinybase import settings as tinybase_settings
from tinybase.auth.mail import build_mailer
from tinybase.auth.passwords import PasswordHasher
from tinybase.auth.ratelimit import SlidingWindowLimiter
from tinybase.auth.resets import PasswordResetService
from tinybase.auth.revocation import RevocationCache
from tinybase.auth.service import AuthService
from tinybase.auth.sessions import SessionService
from tinybase.auth.setup import SetupService
from tinybase.auth.signing_key import load_signing_key
from tinybase.auth.tokens import TokenService
from tinybase.auth.users import UserService
from tinybase.data import Database
from tinybase.settings import Config

__all__ = ["build_auth_service", "registration_allowed"]


def build_auth_service(db: Database, config: Config) -> AuthService:
    """Build every auth service for this process (the database must be migrated).

    Loads (or, on first start, creates) the signing key and the recent session revocations.
    """
    access_ttl = timedelta(minutes=config.auth_access_token_ttl_minutes)
    revocation = RevocationCache(
        db, poll_seconds=config.auth_revocation_poll_seconds, access_ttl=access_ttl
    )
    revocation.load_recent_revocations()
    hasher = PasswordHasher(
        time_cost=config.auth_password_time_cost,
        memory_cost=config.auth_password_memory_kib,
        parallelism=config.auth_password_parallelism,
    )
    users = UserService(db, hasher, revocation)
    per_minute = config.auth_login_attempts_per_minute
    mail_limiter = SlidingWindowLimiter(
        limit=config.auth_password_reset_mails_per_hour, window=3600.0
    )
    resets = PasswordResetService(
        db, users, build_mailer(config), mail_limiter=mail_limiter, public_url=config.public_url
    )
    return AuthService(
        users=users,
        sessions=SessionService(db, revocation, ttl=timedelta(hours=config.auth_token_ttl_hours)),
        tokens=TokenService(load_signing_key(db), revocation, ttl=access_ttl),
        resets=resets,
        setup=SetupService(db, users),
        revocation=revocation,
        hasher=hasher,
        limiter=SlidingWindowLimiter(
            limit=per_minute, detail="Too many login attempts; try again later"
        ),
        token_limiter=SlidingWindowLimiter(limit=per_minute),
        registration_allowed=registration_allowed,
    )


def registration_allowed() -> bool:
    """The runtime setting ``allow_registration`` (allowed while runtime settings are absent)."""
    runtime = getattr(tinybase_settings, "settings", None)
    return True if runtime is None else bool(getattr(runtime, "allow_registration", True))
