"""The auth parts that touch the database, on SQLite and PostgreSQL: the signing key,
refresh-token sessions and the revocation cache."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization

from tinybase.auth.passwords import PasswordHasher
from tinybase.auth.revocation import RevocationCache, UserTokenState
from tinybase.auth.sessions import SessionService, hash_token
from tinybase.auth.setup import SETUP_TOKEN_SECRET, ensure_setup_token
from tinybase.auth.signing_key import SIGNING_KEY_SECRET, load_signing_key
from tinybase.auth.users import UserService
from tinybase.data import Database
from tinybase.db.models import Secret, UserSession
from tinybase.errors import AuthenticationError
from tinybase.settings import load_config


def make_cache(db: Database) -> RevocationCache:
    return RevocationCache(db, poll_seconds=0.1, access_ttl=timedelta(minutes=15))


def make_users(db: Database, cache: RevocationCache) -> UserService:
    return UserService(db, PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1), cache)


def test_concurrent_first_starts_agree_on_one_signing_key(migrated_db: Database) -> None:
    keys: list[bytes] = []

    def start() -> None:
        key = load_signing_key(migrated_db)
        keys.append(
            key.public_key().public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw
            )
        )

    threads = [threading.Thread(target=start) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 6 and len(set(keys)) == 1
    with migrated_db.read() as conn:
        count = conn.execute(
            sa.select(sa.func.count())
            .select_from(Secret.__table__)
            .where(Secret.__table__.c.name == SIGNING_KEY_SECRET)
        ).scalar_one()
    assert count == 1


def test_concurrent_starts_without_an_admin_leave_one_setup_token(
    migrated_db: Database,
) -> None:
    """Servers starting at once on one database each replace the token; the last one holds."""
    tokens: list[str | None] = []
    config = load_config()
    threads = [
        threading.Thread(target=lambda: tokens.append(ensure_setup_token(migrated_db, config)))
        for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(tokens) == 6 and None not in tokens
    with migrated_db.read() as conn:
        stored = (
            conn.execute(
                sa.select(Secret.__table__.c.value).where(
                    Secret.__table__.c.name == SETUP_TOKEN_SECRET
                )
            )
            .scalars()
            .all()
        )
    assert len(stored) == 1
    assert [hash_token(token) for token in tokens].count(stored[0].partition(" ")[0]) == 1


def test_concurrent_refreshes_with_one_token_rotate_once(migrated_db: Database) -> None:
    cache = make_cache(migrated_db)
    user = make_users(migrated_db, cache).create_user(email="a@example.com", password="password1")
    sessions = SessionService(migrated_db, cache, ttl=timedelta(hours=1))
    first = sessions.start(user.id)
    outcomes: list[str] = []

    def refresh() -> None:
        try:
            sessions.rotate(first.token)
            outcomes.append("rotated")
        except AuthenticationError:
            outcomes.append("refused")

    threads = [threading.Thread(target=refresh) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("rotated") <= 1 and len(outcomes) == 4
    with migrated_db.read() as conn:
        rows = conn.execute(sa.select(UserSession.__table__)).all()
    # At most one successor was ever created; a loser of the race counts as reuse.
    assert len(rows) <= 2


def test_poll_brings_changes_made_by_another_process(migrated_db: Database) -> None:
    here, elsewhere = make_cache(migrated_db), make_cache(migrated_db)
    users_elsewhere = make_users(migrated_db, elsewhere)
    user = users_elsewhere.create_user(email="b@example.com", password="password1", is_admin=True)
    other_admin = users_elsewhere.create_user(
        email="c@example.com", password="password1", is_admin=True
    )
    assert here.user_state(user.id) == UserTokenState(0, True)  # first sight: loaded once
    users_elsewhere.update_user(user.id, is_admin=False)
    assert here.user_state(user.id) == UserTokenState(0, True)  # not polled yet
    here.poll()
    assert here.user_state(user.id) == UserTokenState(1, False)
    assert other_admin.is_admin


class ChangeAfterRead:
    """A database whose next read is followed by a change, before the reader stores it."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.then: Callable[[], object] | None = None

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        with self._db.read() as conn:
            yield conn
        then, self.then = self.then, None
        if then is not None:
            then()


def test_a_poll_never_undoes_a_change_made_here_while_it_read(migrated_db: Database) -> None:
    racing_db = ChangeAfterRead(migrated_db)
    cache = RevocationCache(racing_db, poll_seconds=0.1, access_ttl=timedelta(minutes=15))  # type: ignore[arg-type]
    users = make_users(migrated_db, cache)
    user = users.create_user(email="promoted@example.com", password="password1")
    racing_db.then = lambda: users.update_user(user.id, is_admin=True)
    cache.poll()  # read the user as a plain user; the promotion committed before it stored
    assert cache.user_state(user.id) == UserTokenState(0, True)
    racing_db.then = lambda: users.set_password(user.id, "password2")  # a new token version
    assert cache.user_state(user.id, reload=True) == UserTokenState(1, True)


def test_poll_learns_sessions_revoked_elsewhere(migrated_db: Database) -> None:
    here, elsewhere = make_cache(migrated_db), make_cache(migrated_db)
    user = make_users(migrated_db, elsewhere).create_user(
        email="d@example.com", password="password1"
    )
    session = SessionService(migrated_db, elsewhere, ttl=timedelta(hours=1)).start(user.id)
    SessionService(migrated_db, elsewhere, ttl=timedelta(hours=1)).end(session.token)
    assert not here.is_session_revoked(session.session_id)
    here.poll()
    assert here.is_session_revoked(session.session_id)
    fresh = make_cache(migrated_db)
    fresh.load_recent_revocations()  # a process started later knows it too
    assert fresh.is_session_revoked(session.session_id)


def test_unknown_user_is_remembered_as_missing(migrated_db: Database) -> None:
    cache = make_cache(migrated_db)
    assert cache.user_state("0190aaaa-0000-7000-8000-000000000000") is None
    assert cache.user_state("not-a-uuid") is None
