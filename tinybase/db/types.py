"""Column types shared by system tables and collection tables, the same on every dialect."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

__all__ = ["UTCDateTime", "UUIDText"]


class UUIDText(sa.types.TypeDecorator[uuid.UUID]):
    """A UUID stored as its canonical 36-character text on every dialect.

    Text (rather than PostgreSQL's native ``uuid``) keeps ids comparable across system and
    collection tables and in access rules (``_ROW_.owner_id = _USER_.id``) with one code path.
    Binds accept a ``UUID`` or a UUID string; results are ``UUID`` objects.
    """

    impl = sa.String(36)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))

    def process_result_value(self, value: Any, dialect: Dialect) -> uuid.UUID | None:
        return None if value is None else uuid.UUID(value)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every dialect (SQLite stores naive text otherwise)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: TinyBase stores timezone-aware UTC datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        """On SQLite, parse the stored text straight into a UTC datetime.

        Five times faster than SQLAlchemy's text parser followed by ``replace(tzinfo=UTC)``
        (every timestamp of every listed row passes here). Text that is not a naive ISO 8601
        date and time (a date alone, an offset: written by another tool, say) takes the
        general path.
        """
        general = super().result_processor(dialect, coltype)
        if dialect.name != "sqlite" or general is None:
            return general

        def process(value: Any) -> datetime | None:
            if isinstance(value, str):
                try:
                    parsed = datetime.fromisoformat(value + "+00:00")
                except ValueError:
                    parsed = None
                # Date-only text parses too, with the suffix read as its time: no zone.
                if parsed is not None and parsed.tzinfo is not None:
                    return parsed
            return general(value)

        return process
