"""Runtime settings: ``settings``, stored in the database and edited by admins.

The values (instance name, registration, storage) live in ``_setting`` (key -> JSON value),
are typed with defaults by ``RuntimeSettings``, cached in each process and refreshed by a
cheap poll, so several processes agree within seconds. ``/api/admin/settings`` edits them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tinybase.db.models import Setting
from tinybase.errors import ValidationError
from tinybase.utils import utcnow

if TYPE_CHECKING:
    from tinybase.data import Database

__all__ = ["SECRET_MASK", "RuntimeSettings", "SettingsStore", "StorageSettings", "settings"]

logger = logging.getLogger("tinybase.settings")

SECRET_MASK = "********"
"""What ``GET /api/admin/settings`` shows instead of a secret; PATCHing it back changes nothing."""

_SECRET_KEYS = frozenset({"storage.s3_secret_access_key"})


class StorageSettings(BaseModel):
    """Where uploaded files go (``storage.*``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    enabled: bool = False
    backend: Literal["local", "s3"] = "local"
    local_path: str = "./data/files"
    s3_bucket: str | None = None
    s3_region: str | None = None
    s3_endpoint_url: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    s3_prefix: str = ""
    s3_path_style: bool = True
    max_file_size_mb: int = Field(default=10, ge=1, le=10_240)


class RuntimeSettings(BaseModel):
    """The runtime settings with their types and defaults (a key missing from the database
    has its default). Values are strict: ``"true"`` is not a boolean."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    instance_name: str = Field(default="TinyBase", min_length=1, max_length=100)
    allow_registration: bool = True
    storage: StorageSettings = Field(default_factory=StorageSettings)

    def flat(self) -> dict[str, Any]:
        """The settings as ``{"storage.enabled": False, ...}``, the keys of ``_setting``."""
        return _flatten(self.model_dump())

    def public(self) -> dict[str, Any]:
        """The nested settings with secrets masked: what admins see over HTTP."""
        flat = {
            key: SECRET_MASK if key in _SECRET_KEYS and value else value
            for key, value in self.flat().items()
        }
        return _unflatten(flat)


class SettingsStore:
    """The runtime settings of one database, cached in this process.

    ``load()`` reads ``_setting`` (start-up, and the periodic poll of ``AppState``, so that
    processes sharing a database agree within seconds); ``update()`` validates and writes a
    change, then reloads. Attribute access reads the cached snapshot:
    ``store.storage.enabled``.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._current = RuntimeSettings()

    @property
    def current(self) -> RuntimeSettings:
        """The cached snapshot (immutable; replaced as a whole on change)."""
        return self._current

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._current, name)

    def load(self) -> bool:
        """Re-read every setting from the database.

        Returns:
            True when the values differ from the cached ones.
        """
        table = Setting.__table__
        with self._db.read() as connection:
            rows = connection.execute(sa.select(table.c.key, table.c.value)).all()
        loaded = _from_rows({key: value for key, value in rows})
        changed = loaded != self._current
        self._current = loaded
        return changed

    def update(self, changes: Mapping[str, Any]) -> RuntimeSettings:
        """Validate a partial, nested change (``{"storage": {"enabled": True}}``) and store it.

        Only the keys present in ``changes`` are written, so concurrent updates of different
        keys from several processes do not overwrite each other.

        Raises:
            tinybase.errors.ValidationError: an unknown key or a wrong type, named in ``loc``.
        """
        flat_changes = _without_masked_secrets(changes)
        merged = _deep_merge(self._current.model_dump(), _unflatten(flat_changes))
        try:
            validated = RuntimeSettings.model_validate(merged)
        except PydanticValidationError as exc:
            raise _to_validation_error(exc) from exc
        values = {key: value for key, value in validated.flat().items() if key in flat_changes}
        if values:
            with self._db.write() as connection:
                for key, value in values.items():
                    _upsert(connection, key, value)
        self.load()
        return self._current


class _BoundSettings:
    """The module-level ``settings``: the running instance's runtime settings.

    ``build_state`` binds it to the instance's :class:`SettingsStore`; until then (or after
    ``close``) it answers with the defaults.
    """

    def __init__(self) -> None:
        self._store: SettingsStore | None = None

    def bind(self, store: SettingsStore) -> None:
        """Answer from ``store`` from now on (the instance started in this process)."""
        self._store = store

    def unbind(self, store: SettingsStore | None = None) -> None:
        """Go back to the defaults (only if bound to ``store``, when given)."""
        if store is None or self._store is store:
            self._store = None

    @property
    def current(self) -> RuntimeSettings:
        """The bound instance's snapshot, or the defaults."""
        return _DEFAULTS if self._store is None else self._store.current

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.current, name)


_DEFAULTS = RuntimeSettings()

settings = _BoundSettings()
"""The runtime settings of the running instance: ``settings.storage.enabled``."""


def _from_rows(stored: dict[str, Any]) -> RuntimeSettings:
    """Build the settings from ``_setting`` rows, skipping (and logging) unusable ones.

    A stored value can be unknown or invalid after a downgrade or a manual edit; one bad row
    must not stop the server, so it falls back to its default.
    """
    known = set(_DEFAULTS.flat())
    for key in sorted(set(stored) - known):
        logger.warning("ignoring unknown runtime setting %r stored in _setting", key)
    usable = {key: value for key, value in stored.items() if key in known}
    try:
        return RuntimeSettings.model_validate(_unflatten(usable))
    except PydanticValidationError as exc:
        bad = {".".join(str(part) for part in error["loc"]) for error in exc.errors()}
        logger.warning("ignoring invalid runtime settings stored in _setting: %s", sorted(bad))
        usable = {key: value for key, value in usable.items() if key not in bad}
    try:
        return RuntimeSettings.model_validate(_unflatten(usable))
    except PydanticValidationError:
        logger.warning("stored runtime settings are unusable; using the defaults")
        return _DEFAULTS


def _upsert(connection: sa.Connection, key: str, value: Any) -> None:
    table = Setting.__table__
    insert_function = (
        postgresql_insert if connection.dialect.name == "postgresql" else sqlite_insert
    )
    statement = insert_function(table).values(key=key, value=value, updated_at=utcnow())
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={"value": statement.excluded.value, "updated_at": statement.excluded.updated_at},
    )
    connection.execute(statement)


def _to_validation_error(exc: PydanticValidationError) -> ValidationError:
    errors = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        key = ".".join(loc)
        if error["type"] == "extra_forbidden":
            message = f"unknown setting {key!r}"
        else:
            message = f"{key}: {error['msg']}"
        errors.append({"loc": ["body", *loc], "msg": message, "type": error["type"]})
    return ValidationError(errors)


def _without_masked_secrets(changes: Mapping[str, Any]) -> dict[str, Any]:
    flat = _flatten(_unflatten_keys(changes))
    return {
        key: value
        for key, value in flat.items()
        if not (key in _SECRET_KEYS and value == SECRET_MASK)
    }


def _flatten(nested: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in nested.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(_flatten(value, prefix=f"{name}."))
        else:
            flat[name] = value
    return flat


def _unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        *parents, leaf = key.split(".")
        node = nested
        for parent in parents:
            child = node.get(parent)
            if not isinstance(child, dict):
                child = node[parent] = {}
            node = child
        node[leaf] = value
    return nested


def _unflatten_keys(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Accept dotted keys (``{"storage.enabled": true}``) as well as nested objects."""
    nested: dict[str, Any] = {}
    for key, value in changes.items():
        _deep_merge_into(nested, _unflatten({key: value}))
    return nested


def _deep_merge(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    _deep_merge_into(merged, changes)
    return merged


def _deep_merge_into(target: dict[str, Any], changes: Mapping[str, Any]) -> None:
    for key, value in changes.items():
        current = target.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged = dict(current)
            _deep_merge_into(merged, value)
            target[key] = merged
        else:
            target[key] = value
