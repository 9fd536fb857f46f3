"""Deployed versions of isolated functions: the ``_function_version`` table.

Every deploy adds a version (the whole script, its hash, who deployed it); the newest
version of a name is the one every process serves (each polls :meth:`DeployStore.latest`
every ``function_deploy_poll_seconds``). A rollback deploys an older version's source
again, as a new version, so the history only grows and always says what ran when.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import sqlalchemy as sa

from tinybase.data import Database
from tinybase.db.models import FunctionVersion
from tinybase.errors import NotFoundError
from tinybase.utils import utcnow, uuid7

__all__ = ["DeployStore"]

_TABLE: sa.Table = FunctionVersion.__table__  # type: ignore[attr-defined]
_LISTED = [c for c in _TABLE.columns if c.key != "source"]


class DeployStore:
    """The deployed versions of one instance's database (blocking: call in a thread)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        newest = (
            sa.select(_TABLE.c.function_name, sa.func.max(_TABLE.c.version).label("version"))
            .group_by(_TABLE.c.function_name)
            .subquery()
        )
        self._latest = sa.select(_TABLE.c.function_name, _TABLE.c.version, _TABLE.c.source).join(
            newest,
            sa.and_(
                newest.c.function_name == _TABLE.c.function_name,
                newest.c.version == _TABLE.c.version,
            ),
        )

    def latest(self) -> dict[str, tuple[int, str | None]]:
        """Each deployed name's newest version and source (None: removed)."""
        with self._db.read() as connection:
            rows = connection.execute(self._latest).all()
        return {row.function_name: (row.version, row.source) for row in rows}

    def add(
        self, name: str, source: str | None, *, user_id: str | None, note: str | None = None
    ) -> dict[str, Any]:
        """Add a version of ``name`` (``source`` None: a removal); return its row."""
        row = {
            "id": uuid7(),
            "function_name": name,
            "source": source,
            "content_hash": None if source is None else hashlib.sha256(source.encode()).hexdigest(),
            "note": note,
            "deployed_by": None if user_id is None else uuid.UUID(user_id),
            "created_at": utcnow(),
        }
        with self._db.write() as connection:
            current = connection.execute(
                sa.select(sa.func.max(_TABLE.c.version)).where(_TABLE.c.function_name == name)
            ).scalar()
            row["version"] = (current or 0) + 1
            connection.execute(_TABLE.insert(), row)
        return {key: value for key, value in row.items() if key != "source"}

    def versions(self, name: str) -> list[dict[str, Any]]:
        """Every version of ``name``, newest first (without sources)."""
        query = (
            sa.select(*_LISTED)
            .where(_TABLE.c.function_name == name)
            .order_by(_TABLE.c.version.desc())
        )
        with self._db.read() as connection:
            return [dict(row) for row in connection.execute(query).mappings()]

    def source(self, name: str, version: int) -> str:
        """The source of one version.

        Raises:
            NotFoundError: no such version, or it is a removal.
        """
        query = sa.select(_TABLE.c.source).where(
            _TABLE.c.function_name == name, _TABLE.c.version == version
        )
        with self._db.read() as connection:
            source = connection.execute(query).scalar()
        if source is None:
            raise NotFoundError(f"Function {name!r} has no version {version}")
        return source
