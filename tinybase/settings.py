"""TinyBase settings: static ``config`` and runtime ``settings``.

``config`` is read once at start-up from, in order of precedence: environment variables
(``TINYBASE_<NAME>``), a ``tinybase.toml`` file (``TINYBASE_CONFIG`` names another path), and
the defaults below. TOML sections map one to one onto names: ``[server] port`` is
``server_port``, ``[database] url`` is ``db_url``. An unknown key is an error at start-up.

``settings`` holds the runtime settings stored in the database (instance name, registration,
storage), which admins edit through ``/api/admin/settings``.
"""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tinybase.db.models import Setting
from tinybase.errors import ValidationError
from tinybase.utils import utcnow

if TYPE_CHECKING:
    from tinybase.data import Database

__all__ = [
    "Config",
    "ConfigError",
    "RuntimeSettings",
    "SettingsStore",
    "StorageSettings",
    "config",
    "load_config",
    "settings",
]

CONFIG_FILE_ENV = "TINYBASE_CONFIG"
DEFAULT_CONFIG_FILE = "tinybase.toml"
ENV_PREFIX = "TINYBASE_"
# Environment variables with the prefix that are not config fields but are read elsewhere.
OTHER_ENV_VARIABLES = frozenset(
    {CONFIG_FILE_ENV, "TINYBASE_REQUIRE_PG", "TINYBASE_ADMIN_EMAIL", "TINYBASE_ADMIN_PASSWORD"}
)

# A TOML section whose keys do not simply become "<section>_<key>".
_SECTION_PREFIXES = {"database": "db"}
# Sections that hold structured values rather than scalar settings.
_STRUCTURED_SECTIONS = {"record_apis"}

logger = logging.getLogger("tinybase.settings")


class ConfigError(ValueError):
    """The configuration file or environment holds an unknown key or a bad value."""


class Config(BaseSettings):
    """Static configuration; see the module docstring for where values come from."""

    model_config = SettingsConfigDict(env_prefix="TINYBASE_", extra="forbid", frozen=True)

    # The seed's table.
    server_host: str = Field("0.0.0.0", description="Interface to listen on (0.0.0.0: all).")
    server_port: int = Field(8000, description="TCP port to listen on.")
    debug: bool = Field(False, description="Debug mode (never in production).")
    log_level: str = Field("info", description="critical, error, warning, info, debug or trace.")
    db_url: str = Field(
        "sqlite:///./tinybase.db",
        description="sqlite:///path/to/file.db or postgresql://user:password@host/dbname.",
    )
    auth_token_ttl_hours: int = Field(
        24, description="Lifetime of a refresh token (a login session), in hours."
    )
    functions_path: str = Field("./functions", description="Folder of the functions.")
    scheduler_enabled: bool = Field(True, description="Run scheduled functions in this process.")
    scheduler_interval_seconds: int = Field(
        5, description="How often the scheduler looks for due schedules, in seconds."
    )
    scheduler_token_cleanup_interval: int = Field(
        60, description="How often expired sessions are deleted, in seconds."
    )
    cors_allow_origins: list[str] = Field(
        default_factory=lambda: ["*"],
        description="Origins allowed by CORS (browsers calling the API from elsewhere).",
    )
    admin_static_dir: str = Field(
        "builtin", description="The admin UI's files ('builtin': the bundled UI)."
    )
    extensions_enabled: bool = Field(True, description="Load extensions at start-up.")
    extensions_path: str = Field("~/.tinybase/extensions", description="Folder of extensions.")

    # Beyond the seed's table.
    public_url: str = Field(
        "http://127.0.0.1:8000",
        description="The URL users reach this server at (used in e-mailed links).",
    )
    auth_access_token_ttl_minutes: int = Field(
        15, description="Lifetime of an access token (JWT), in minutes."
    )
    auth_revocation_poll_seconds: float = Field(
        2.0,
        description="How often every process picks up logouts and demotions, in seconds.",
    )
    auth_login_attempts_per_minute: int = Field(
        10, description="Login attempts allowed per minute, per IP and per account."
    )
    # argon2id cost parameters; None keeps argon2-cffi's defaults.
    auth_password_time_cost: int | None = Field(
        None, description="argon2id iterations (unset: the library default).", examples=[3]
    )
    auth_password_memory_kib: int | None = Field(
        None, description="argon2id memory in KiB (unset: the library default).", examples=[65536]
    )
    auth_password_parallelism: int | None = Field(
        None, description="argon2id lanes (unset: the library default).", examples=[4]
    )
    smtp_host: str | None = Field(
        None,
        description="SMTP server for password-reset mail (unset: links go to the log).",
        examples=["smtp.example.com"],
    )
    smtp_port: int = Field(587, description="SMTP port.")
    smtp_username: str | None = Field(None, description="SMTP user name.", examples=["tinybase"])
    smtp_password: str | None = Field(None, description="SMTP password.", examples=["change-me"])
    smtp_from: str = Field("tinybase@localhost", description="Sender address of TinyBase's mail.")
    smtp_starttls: bool = Field(True, description="Use STARTTLS with the SMTP server.")
    record_apis: list[dict[str, Any]] = Field(
        default_factory=list, description="Extra record APIs, one [[record_apis]] table each."
    )
    settings_poll_seconds: float = Field(
        2.0,
        description="How often runtime settings (/api/admin/settings) are re-read, in seconds.",
    )

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        levels = {"critical", "error", "warning", "info", "debug", "trace"}
        if value.lower() not in levels:
            raise ValueError(f"log_level must be one of {sorted(levels)}")
        return value.lower()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlSource(settings_cls))


class _TomlSource(PydanticBaseSettingsSource):
    """Reads ``tinybase.toml`` and flattens its sections onto the config's field names."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        raise NotImplementedError  # __call__ below returns every value at once

    def __call__(self) -> dict[str, Any]:
        path = Path(os.environ.get(CONFIG_FILE_ENV, DEFAULT_CONFIG_FILE))
        if not path.is_file():
            if CONFIG_FILE_ENV in os.environ:
                raise ConfigError(f"config file {path} does not exist")
            return {}
        with path.open("rb") as file:
            try:
                document = tomllib.load(file)
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{path}: {exc}") from exc
        return flatten_toml(document, source=str(path))


def flatten_toml(document: dict[str, Any], *, source: str = "tinybase.toml") -> dict[str, Any]:
    """Map ``{"server": {"port": 1}}`` to ``{"server_port": 1}``, rejecting unknown keys."""
    known = set(Config.model_fields)
    flat: dict[str, Any] = {}
    for key, value in document.items():
        if isinstance(value, dict) and key not in _STRUCTURED_SECTIONS:
            prefix = _SECTION_PREFIXES.get(key, key)
            pairs = {f"{prefix}_{inner}": inner_value for inner, inner_value in value.items()}
        else:
            pairs = {key: value}
        for name, inner_value in pairs.items():
            if name not in known:
                raise ConfigError(f"{source}: unknown setting {name!r}")
            flat[name] = inner_value
    return flat


def load_config(**overrides: Any) -> Config:
    """Read the configuration now (keyword overrides > environment > tinybase.toml > defaults).

    Raises:
        ConfigError: an unknown ``TINYBASE_*`` environment variable or TOML key, an
            unreadable TOML file, or a value of the wrong type.
    """
    check_environment()
    try:
        return Config(**overrides)
    except ValueError as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(str(exc)) from exc


def check_environment(environ: Mapping[str, str] | None = None) -> None:
    """Reject ``TINYBASE_*`` variables that name no setting (a typo must not go unnoticed).

    Raises:
        ConfigError: naming every unknown variable.
    """
    environ = os.environ if environ is None else environ
    known = {ENV_PREFIX + name.upper() for name in Config.model_fields} | OTHER_ENV_VARIABLES
    unknown = sorted(
        name
        for name in environ
        if name.upper().startswith(ENV_PREFIX) and name.upper() not in known
    )
    if unknown:
        raise ConfigError(f"unknown environment variable(s): {', '.join(unknown)}")


class _ConfigProxy:
    """The module-level ``config``: loaded on first use, so importing never fails."""

    _loaded: Config | None = None

    def __getattr__(self, name: str) -> Any:
        if self._loaded is None:
            type(self)._loaded = load_config()
        return getattr(self._loaded, name)

    @classmethod
    def reload(cls) -> None:
        cls._loaded = None


config: Config = _ConfigProxy()  # type: ignore[assignment]


# -- runtime settings --------------------------------------------------------------------------

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
