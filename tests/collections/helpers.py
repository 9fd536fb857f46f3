"""Helpers shared by the collections tests (and the seed example): rows written directly.

Plain code, not fixtures: test modules import it as ``from tests.collections.helpers import ...``
(pytest discourages importing from conftest modules); the fixtures live in conftest.py.
"""

from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa

from tinybase.data import Database
from tinybase.db.models import User
from tinybase.utils import utcnow, uuid7

__all__ = ["insert_user"]


def insert_user(db: Database, *, email: str | None = None) -> UUID:
    """Insert a (non-admin) user row straight into ``db``, bypassing the auth service.

    ``email`` defaults to one made of the new id. Returns the user's id.
    """
    user_id = uuid7()
    now = utcnow()
    with db.write() as connection:
        connection.execute(
            sa.insert(User.__table__).values(
                id=user_id,
                email=email or f"{user_id}@example.com",
                password_hash="x",
                is_admin=False,
                token_version=0,
                created_at=now,
                updated_at=now,
            )
        )
    return user_id
