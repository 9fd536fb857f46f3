"""Admin-defined record APIs, stored in ``_record_api`` (``/api/admin/record-apis``).

Saving an API checks it fully before it is stored: the options (TrailBase's shape), the
table or view, the primary key, the columns named in ``excluded_columns`` and ``expand``, and
every access rule, compiled and run once against the database (``LIMIT 0``) so a broken rule
is refused with the database's own message instead of failing on the first request.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from tinybase.db.models import RecordApi
from tinybase.errors import ConflictError, NotFoundError, ValidationError
from tinybase.records.access import check_rules
from tinybase.records.config import RecordApiConfig
from tinybase.records.engine import RecordEngine
from tinybase.records.registry import RecordApiRegistry, check_exposable, reflect
from tinybase.utils import utcnow

if TYPE_CHECKING:
    from tinybase.data import Database

__all__ = ["RecordApiStore"]

_TABLE: sa.Table = RecordApi.__table__  # type: ignore[attr-defined]
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")


class RecordApiStore:
    """Create, change and delete admin-defined record APIs; list all of them.

    Args:
        db: the database.
        registry: reloaded after every change.
    """

    def __init__(self, db: Database, registry: RecordApiRegistry) -> None:
        self.db = db
        self.registry = registry

    def list(self) -> list[dict[str, Any]]:
        """Every API (collections' defaults too), as config dicts with their ``origin``."""
        apis = self.registry.apis()
        return [
            apis[name].config.to_dict() | {"origin": apis[name].origin} for name in sorted(apis)
        ]

    def get(self, name: str) -> dict[str, Any]:
        """One API's config with its ``origin``; NotFoundError if there is none."""
        registered = self.registry.apis().get(name)
        if registered is None:
            raise NotFoundError(f"record API {name[:64]!r} not found")
        return registered.config.to_dict() | {"origin": registered.origin}

    def create(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Check and store a new API.

        Raises:
            ValidationError: a bad option, table, column or rule (named; 422).
            ConflictError: the name is taken (409).
        """
        config = self._checked(data)
        if config.name in self.registry.apis():
            raise ConflictError(f"record API {config.name!r} already exists")
        now = utcnow()
        row = {"name": config.name, "config": _stored(config), "created_at": now, "updated_at": now}
        with self.db.write() as connection:
            if connection.execute(
                sa.select(_TABLE.c.name).where(_TABLE.c.name == config.name)
            ).first():
                raise ConflictError(f"record API {config.name!r} already exists")
            connection.execute(_TABLE.insert().values(row))
        self.registry.invalidate()
        return self.get(config.name)

    def update(self, name: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Change some options of an admin-defined API (its name stays).

        Raises:
            NotFoundError: no admin-defined API of that name.
            ValidationError: as for :meth:`create`.
        """
        current = self._stored_config(name)
        if "name" in changes and changes["name"] != name:
            raise ValidationError.for_field("name", "an API cannot be renamed")
        config = self._checked({**current, **changes, "name": name})
        with self.db.write() as connection:
            connection.execute(
                _TABLE.update()
                .where(_TABLE.c.name == name)
                .values(config=_stored(config), updated_at=utcnow())
            )
        self.registry.invalidate()
        return self.get(name)

    def delete(self, name: str) -> None:
        """Delete an admin-defined API. Raises NotFoundError if there is none."""
        self._stored_config(name)
        with self.db.write() as connection:
            connection.execute(_TABLE.delete().where(_TABLE.c.name == name))
        self.registry.invalidate()

    def _stored_config(self, name: str) -> dict[str, Any]:
        with self.db.read() as connection:
            stored = connection.execute(
                sa.select(_TABLE.c.config).where(_TABLE.c.name == name)
            ).scalar_one_or_none()
        if stored is None:
            raise NotFoundError(f"record API {name[:64]!r} not found (or not admin-defined)")
        return dict(stored)

    def _checked(self, data: Mapping[str, Any]) -> RecordApiConfig:
        if not isinstance(data, Mapping):
            raise ValidationError.for_field("body", "expected a JSON object")
        config = RecordApiConfig.from_mapping(data)
        if not _NAME.match(config.name):
            raise ValidationError.for_field("name", "letters, digits and _, at most 63")
        check_exposable(config.table_name)
        with self.db.read() as connection:
            table, is_view = reflect(connection, config.table_name)
            for key in ("excluded_columns", "expand"):
                for column in getattr(config, key):
                    if column not in table.c:
                        raise ValidationError.for_field(key, f"no column {column!r}")
            engine = RecordEngine(self.db, config.normalized(), table, read_only=is_view)
            check_rules(connection, table, engine.rules)
        return config


def _stored(config: RecordApiConfig) -> dict[str, Any]:
    return config.to_dict()
