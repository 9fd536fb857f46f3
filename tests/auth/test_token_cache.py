"""The verified-token cache of TokenService: it saves the signature check, nothing else."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tinybase.auth import tokens as tokens_module
from tinybase.auth.revocation import UserTokenState
from tinybase.auth.tokens import TokenService, TokenSubject
from tinybase.errors import AuthenticationError
from tinybase.utils import uuid7

USER = str(uuid7())


@dataclass
class FakeRevocation:
    """The in-memory part of RevocationCache, without a database."""

    users: dict[str, UserTokenState | None] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)

    def user_state(self, user_id: str, *, reload: bool = False) -> UserTokenState | None:
        return self.users.get(user_id)

    def cached_user_state(self, user_id: str) -> UserTokenState | None:
        return self.users.get(user_id)

    def is_session_revoked(self, session_id: str) -> bool:
        return session_id in self.revoked


@pytest.fixture
def revocation() -> FakeRevocation:
    return FakeRevocation(users={USER: UserTokenState(token_version=1, is_admin=False)})


@pytest.fixture
def service(revocation: FakeRevocation) -> TokenService:
    key = Ed25519PrivateKey.generate()
    return TokenService(key, revocation, ttl=timedelta(minutes=5))  # type: ignore[arg-type]


def _token(service: TokenService, session: str = "s1", version: int = 1) -> str:
    subject = TokenSubject(user_id=USER, email="a@b.c", is_admin=False, token_version=version)
    return service.issue(subject, session_id=session).token


def _no_signature_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the signature was checked again")

    monkeypatch.setattr(jwt, "decode", refuse)


def test_a_verified_token_is_not_verified_again(
    service: TokenService, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = _token(service)
    assert service.verify(token).user_id == USER
    _no_signature_checks(monkeypatch)
    assert service.verify(token).user_id == USER


def test_a_cached_token_still_expires(
    service: TokenService, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = _token(service)
    service.verify(token)
    expires = service.claims(token)["exp"]
    monkeypatch.setattr(tokens_module.time, "time", lambda: expires + 1)
    with pytest.raises(AuthenticationError):
        service.verify(token)


def test_a_cached_token_of_a_revoked_session_is_refused(
    service: TokenService, revocation: FakeRevocation
) -> None:
    token = _token(service, session="s1")
    service.verify(token)
    revocation.revoked.add("s1")
    with pytest.raises(AuthenticationError):
        service.verify(token)
    with pytest.raises(AuthenticationError):
        service.verify_in_memory(token)


def test_a_cached_token_of_an_older_version_is_refused(
    service: TokenService, revocation: FakeRevocation
) -> None:
    token = _token(service, version=1)
    service.verify(token)
    revocation.users[USER] = UserTokenState(token_version=2, is_admin=False)  # logout-all
    with pytest.raises(AuthenticationError):
        service.verify(token)


def test_a_token_that_fails_verification_is_never_cached(service: TokenService) -> None:
    token = _token(service)
    header, payload, signature = token.split(".")
    forged = f"{header}.{payload}.{signature[:-4]}AAAA"
    for _ in range(2):
        with pytest.raises(AuthenticationError):
            service.verify(forged)
    assert forged not in service._verified


def test_the_cache_is_bounded(service: TokenService, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens_module, "VERIFIED_CACHE_SIZE", 2)
    issued = [_token(service, session=f"s{n}") for n in range(3)]
    for token in issued:
        service.verify(token)
    assert list(service._verified) == issued[1:]


def test_verify_in_memory_defers_unknown_users_to_a_database_read(
    service: TokenService, revocation: FakeRevocation
) -> None:
    token = _token(service)
    revocation.users.clear()
    assert service.verify_in_memory(token) is None
