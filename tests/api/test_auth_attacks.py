"""Attacks on the auth flows, from the attacker's side (issue 16, items 3 and 9 to 13).

Each test plays one attack against the app: concurrent password guesses, a stolen access
token used as a password oracle, stale reset links, made-up tokens that cost an argon2id
hash, mail floods, and bodies with text no database can store. Limits are the defaults of
``FAST_TEST_CONFIG`` (10 attempts per minute, 3 reset mails per address and hour).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.api.helpers import PASSWORD, TestUser, login
from tinybase.auth.passwords import PasswordHasher
from tinybase.auth.setup import ensure_setup_token
from tinybase.db.models import PasswordReset, User

LIMIT = 10  # auth_login_attempts_per_minute's default
MAILS_PER_ADDRESS = 3  # auth_password_reset_mails_per_hour's default
WRONG = "not the password"
TOO_MANY_LOGINS = {"detail": "Too many login attempts; try again later"}
TOO_MANY = {"detail": "Too many attempts; try again later"}
BAD_RESET_TOKEN = {"detail": "Invalid or expired reset token"}
RESET = "/api/auth/password-reset"


def hasher(client: TestClient) -> PasswordHasher:
    return client.app.state.tinybase.auth._hasher


@pytest.fixture
def verify_calls(client: TestClient) -> Iterator[list[str | None]]:
    """Every password check the server runs; each takes 50 ms, so concurrent guesses
    overlap (the window in which a check-then-count limiter lets all of them through)."""
    target = hasher(client)
    original = target.verify
    calls: list[str | None] = []

    def slow_verify(password_hash: str | None, password: str) -> bool:
        calls.append(password_hash)
        time.sleep(0.05)
        return original(password_hash, password)

    target.verify = slow_verify  # type: ignore[method-assign]
    yield calls
    target.verify = original  # type: ignore[method-assign]


@pytest.fixture
def hash_calls(client: TestClient) -> list[str]:
    """Every argon2id hash of a new password the server computes."""
    target = hasher(client)
    original = target.hash
    calls: list[str] = []

    def counting_hash(password: str) -> str:
        calls.append(password)
        return original(password)

    target.hash = counting_hash  # type: ignore[method-assign]
    return calls


def from_ip(client: TestClient, ip: str) -> TestClient:
    """A client of the same running app whose requests come from ``ip``."""
    return TestClient(client.app, client=(ip, 40000))


def statuses(responses: list[Any]) -> Counter[int]:
    return Counter(response.status_code for response in responses)


def concurrently(count: int, request: Callable[[], Any]) -> list[Any]:
    """Send ``count`` requests at once (released together by a barrier)."""
    start = threading.Barrier(count)

    def send() -> Any:
        start.wait()
        return request()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda _: send(), range(count)))


def password_hash(client: TestClient, user_id: str) -> str:
    table = User.__table__
    with client.app.state.tinybase.db.read() as conn:
        return conn.execute(sa.select(table.c.password_hash).where(table.c.id == user_id)).one()[0]


def reset_rows(client: TestClient) -> list[sa.Row]:
    table = PasswordReset.__table__
    with client.app.state.tinybase.db.read() as conn:
        return conn.execute(sa.select(table).order_by(table.c.created_at)).all()


def mailed_tokens(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The reset tokens mailed so far (the log mailer writes them to ``tinybase.auth``)."""
    messages = [r.getMessage() for r in caplog.records if r.name == "tinybase.auth"]
    return [t for message in messages for t in re.findall(r"reset-password\?token=(\S+)", message)]


def request_reset_link(client: TestClient, email: str, caplog: pytest.LogCaptureFixture) -> str:
    caplog.set_level(logging.INFO, logger="tinybase.auth")
    before = len(mailed_tokens(caplog))
    assert client.post(f"{RESET}/request", json={"email": email}).status_code == 202
    tokens = mailed_tokens(caplog)
    assert len(tokens) == before + 1
    return tokens[-1]


def confirm_reset(client: TestClient, token: str, password: str = "a new password!") -> Any:
    return client.post(f"{RESET}/confirm", json={"token": token, "password": password})


# -- 9: concurrent login guesses ---------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/auth/login", "/api/auth/v1/login"])
def test_concurrent_login_guesses_are_capped_at_the_limit(
    client: TestClient, make_user: Callable[..., TestUser], verify_calls: list, path: str
) -> None:
    victim = make_user()
    verify_calls.clear()  # the victim's own login
    responses = concurrently(
        2 * LIMIT, lambda: client.post(path, json={"email": victim.email, "password": WRONG})
    )
    assert statuses(responses) == {401: LIMIT, 429: LIMIT}
    assert len(verify_calls) == LIMIT  # the refused guesses were never checked
    assert all(r.json() == TOO_MANY_LOGINS for r in responses if r.status_code == 429)
    right = client.post(path, json={"email": victim.email, "password": PASSWORD})
    assert right.status_code == 429 and len(verify_calls) == LIMIT


# -- 10: change-password as a password oracle --------------------------------------------


def _change_password(client: TestClient, user: TestUser, current: str) -> Any:
    body = {"current_password": current, "new_password": "attacker's password"}
    return client.post("/api/auth/change-password", json=body, headers=user.headers)


def test_stolen_access_token_cannot_guess_the_password_by_changing_it(
    client: TestClient, make_user: Callable[..., TestUser]
) -> None:
    victim = make_user()
    stored = password_hash(client, victim.id)
    for _ in range(LIMIT):
        wrong = _change_password(client, victim, WRONG)
        assert (wrong.status_code, wrong.json()) == (
            400,
            {"detail": "Current password is incorrect"},
        )
    right = _change_password(client, victim, PASSWORD)
    assert (right.status_code, right.json()) == (429, TOO_MANY_LOGINS)
    assert 1 <= int(right.headers["Retry-After"]) <= 60
    assert password_hash(client, victim.id) == stored
    # The same guesses through login count too, from another IP: the account is the key.
    elsewhere = from_ip(client, "203.0.113.7")
    response = elsewhere.post("/api/auth/login", json={"email": victim.email, "password": PASSWORD})
    assert response.status_code == 429


def test_change_password_guesses_are_limited_per_ip_across_accounts(
    client: TestClient,
) -> None:
    users = client.app.state.tinybase.users
    emails = [f"stolen{index}@example.com" for index in range(LIMIT + 1)]
    for email in emails:
        users.create_user(email=email, password=PASSWORD)
    stolen = [login(client, email) for email in emails]
    for victim in stolen[:LIMIT]:
        assert _change_password(client, victim, WRONG).status_code == 400
    assert _change_password(client, stolen[LIMIT], PASSWORD).status_code == 429
    assert _change_password(
        from_ip(client, "203.0.113.7"), stolen[LIMIT], PASSWORD
    ).status_code == (200)


def test_concurrent_change_password_guesses_are_capped(
    client: TestClient, make_user: Callable[..., TestUser], verify_calls: list
) -> None:
    victim = make_user()
    verify_calls.clear()  # the victim's own login
    responses = concurrently(2 * LIMIT, lambda: _change_password(client, victim, WRONG))
    assert statuses(responses) == {400: LIMIT, 429: LIMIT}
    assert len(verify_calls) == LIMIT


# -- 11: reset links that outlive a password change --------------------------------------


def test_older_reset_link_dies_when_a_newer_one_is_used(
    client: TestClient, make_user: Callable[..., TestUser], caplog: pytest.LogCaptureFixture
) -> None:
    victim = make_user()
    older = request_reset_link(client, victim.email, caplog)
    newer = request_reset_link(client, victim.email, caplog)
    assert confirm_reset(client, newer).status_code == 204
    response = confirm_reset(client, older, "the attacker's one")
    assert response.status_code == 400 and response.json() == BAD_RESET_TOKEN
    login(client, victim.email, "a new password!")
    assert [row.used_at is not None for row in reset_rows(client)] == [True]


@pytest.mark.parametrize("change", ["change-password", "admin sets password", "admin sets email"])
def test_reset_link_dies_when_the_password_or_email_changes(
    client: TestClient,
    make_user: Callable[..., TestUser],
    admin: TestUser,
    caplog: pytest.LogCaptureFixture,
    change: str,
) -> None:
    victim = make_user()
    link = request_reset_link(client, victim.email, caplog)
    if change == "change-password":
        body = {"current_password": PASSWORD, "new_password": "changed password"}
        response = client.post("/api/auth/change-password", json=body, headers=victim.headers)
    else:
        body = (
            {"password": "changed password"}
            if change == "admin sets password"
            else {"email": "moved@example.com"}
        )
        response = client.patch(f"/api/admin/users/{victim.id}", json=body, headers=admin.headers)
    assert response.status_code == 200
    stored = password_hash(client, victim.id)
    response = confirm_reset(client, link)
    assert response.status_code == 400 and response.json() == BAD_RESET_TOKEN
    assert password_hash(client, victim.id) == stored
    assert reset_rows(client) == []


# -- 12: made-up tokens must not cost an argon2id hash -----------------------------------


def test_made_up_reset_token_is_refused_before_any_hash(
    client: TestClient, hash_calls: list[str]
) -> None:
    response = confirm_reset(client, "made-up-token")
    assert (response.status_code, response.json()) == (400, BAD_RESET_TOKEN)
    assert hash_calls == []


def test_reset_confirmations_are_limited_per_ip(
    client: TestClient,
    make_user: Callable[..., TestUser],
    hash_calls: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    victim = make_user()
    link = request_reset_link(client, victim.email, caplog)
    hash_calls.clear()
    for index in range(LIMIT):
        assert confirm_reset(client, f"guess-{index}").status_code == 400
    response = confirm_reset(client, link)
    assert (response.status_code, response.json()) == (429, TOO_MANY)
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert hash_calls == []
    assert confirm_reset(from_ip(client, "203.0.113.7"), link).status_code == 204
    assert len(hash_calls) == 1


def _setup(client: TestClient, token: str, email: str = "owner@example.com") -> Any:
    return client.post(
        "/api/admin/setup", json={"token": token, "email": email, "password": PASSWORD}
    )


def test_made_up_setup_token_is_refused_before_any_hash(
    client: TestClient, hash_calls: list[str]
) -> None:
    state = client.app.state.tinybase
    assert ensure_setup_token(state.db, state.config) is not None
    response = _setup(client, "made-up-token")
    assert (response.status_code, response.json()) == (
        403,
        {"detail": "Invalid or expired setup token"},
    )
    assert hash_calls == []


def test_setup_attempts_are_limited_per_ip(client: TestClient, hash_calls: list[str]) -> None:
    state = client.app.state.tinybase
    token = ensure_setup_token(state.db, state.config)
    assert token is not None
    for index in range(LIMIT):
        assert _setup(client, f"guess-{index}").status_code == 403
    response = _setup(client, token)
    assert (response.status_code, response.json()) == (429, TOO_MANY)
    assert hash_calls == []
    assert _setup(from_ip(client, "203.0.113.7"), token).status_code == 201
    assert len(hash_calls) == 1


# -- 13: reset-mail floods ---------------------------------------------------------------


def test_reset_requests_for_one_address_stop_mailing_silently(
    client: TestClient, make_user: Callable[..., TestUser], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tinybase.auth")
    victim = make_user()
    answers = [
        from_ip(client, f"198.51.100.{index}").post(f"{RESET}/request", json={"email": address})
        for index, address in enumerate([victim.email] * 5 + ["nobody@example.com"] * 5)
    ]
    assert {(a.status_code, a.text) for a in answers} == {(202, answers[0].text)}
    assert len(mailed_tokens(caplog)) == MAILS_PER_ADDRESS
    assert len(reset_rows(client)) == MAILS_PER_ADDRESS


def test_reset_requests_are_limited_per_ip(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    for index in range(LIMIT):
        response = client.post(f"{RESET}/request", json={"email": f"probe{index}@example.com"})
        assert response.status_code == 202
    response = client.post(f"{RESET}/request", json={"email": "probe@example.com"})
    assert (response.status_code, response.json()) == (429, TOO_MANY)
    assert 1 <= int(response.headers["Retry-After"]) <= 60


# -- nearby: registrations hash a password for anyone --------------------------------------


@pytest.mark.parametrize(
    ("path", "created"), [("/api/auth/register", 201), ("/api/auth/v1/register", 200)]
)
def test_registrations_are_limited_per_ip(
    client: TestClient, hash_calls: list[str], path: str, created: int
) -> None:
    for index in range(LIMIT):
        body = {"email": f"bot{index}@example.com", "password": PASSWORD}
        assert client.post(path, json=body).status_code == created
    response = client.post(path, json={"email": "bot@example.com", "password": PASSWORD})
    assert (response.status_code, response.json()) == (429, TOO_MANY)
    assert len(hash_calls) == LIMIT
    other = from_ip(client, "203.0.113.7")
    body = {"email": "human@example.com", "password": PASSWORD}
    assert other.post(path, json=body).status_code == created


# -- 3: text that cannot be encoded ------------------------------------------------------

SURROGATE = "\\ud800"  # as spelled in the JSON text: a lone high surrogate
UNICODE_ERROR = "Input should be a valid string, unable to parse raw data as a unicode string"

_BODIES: list[tuple[str, str, str, bool]] = [
    # (method, path, JSON body with {S} for the bad string, whether it needs a user/admin)
    (
        "POST",
        "/api/auth/register",
        '{"email": "a@example.com", "password": "{S}long enough"}',
        False,
    ),
    (
        "POST",
        "/api/auth/register",
        '{"email": "{S}@example.com", "password": "long enough"}',
        False,
    ),
    ("POST", "/api/auth/login", '{"email": "{victim}", "password": "{S}long enough"}', False),
    ("POST", "/api/auth/login", '{"email": "{S}", "password": "long enough"}', False),
    ("POST", "/api/auth/refresh", '{"refresh_token": "{S}"}', False),
    ("POST", "/api/auth/logout", '{"refresh_token": "{S}"}', False),
    ("POST", "/api/auth/change-password", '{"current_password": "{S}", "new_password": "x"}', True),
    ("POST", "/api/auth/password-reset/request", '{"email": "{S}@example.com"}', False),
    (
        "POST",
        "/api/auth/password-reset/confirm",
        '{"token": "{S}", "password": "long enough"}',
        False,
    ),
    (
        "POST",
        "/api/auth/password-reset/confirm",
        '{"token": "t", "password": "{S}long enough"}',
        False,
    ),
    (
        "POST",
        "/api/auth/v1/register",
        '{"email": "b@example.com", "password": "{S}long enough"}',
        False,
    ),
    (
        "POST",
        "/api/auth/v1/login",
        '{"email_or_username": "{S}", "password": "long enough"}',
        False,
    ),
    ("POST", "/api/auth/v1/login", '{"email": "{victim}", "password": "{S}long enough"}', False),
    ("POST", "/api/auth/v1/refresh", '{"refresh_token": "{S}"}', False),
    ("POST", "/api/auth/v1/logout", '{"refresh_token": "{S}"}', False),
    (
        "POST",
        "/api/admin/setup",
        '{"token": "{S}", "email": "o@example.com", "password": "long enough"}',
        False,
    ),
    ("POST", "/api/admin/users", '{"email": "c@example.com", "password": "{S}long enough"}', True),
    ("PATCH", "/api/admin/users/{victim_id}", '{"password": "{S}long enough"}', True),
]


@pytest.mark.parametrize(("method", "path", "template", "as_admin"), _BODIES)
def test_lone_surrogate_in_a_body_is_a_422_naming_the_field(
    client: TestClient,
    make_user: Callable[..., TestUser],
    admin: TestUser,
    method: str,
    path: str,
    template: str,
    as_admin: bool,
) -> None:
    victim = make_user()
    before = password_hash(client, victim.id)
    body = template.replace("{S}", SURROGATE).replace("{victim}", victim.email)
    field = re.search(r'"(\w+)": "[^"]*\{S\}', template)
    assert field is not None
    headers = {"Content-Type": "application/json"}
    if as_admin:
        headers |= admin.headers
    response = client.request(
        method,
        path.replace("{victim_id}", victim.id),
        content=body.encode(),
        headers=headers,
    )
    assert (response.status_code, response.json()) == (
        422,
        {
            "detail": [
                {"loc": ["body", field.group(1)], "msg": UNICODE_ERROR, "type": "string_unicode"}
            ]
        },
    )
    assert password_hash(client, victim.id) == before
