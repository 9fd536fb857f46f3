"""TinyBase settings: static ``config`` and runtime ``settings``.

``config`` is read once at start-up from, in order of precedence: environment variables
(``TINYBASE_<NAME>``), a ``tinybase.toml`` file (``TINYBASE_CONFIG`` names another path), and
the defaults below. TOML sections map one to one onto names: ``[server] port`` is
``server_port``, ``[database] url`` is ``db_url``. An unknown key is an error at start-up.

``settings`` holds the runtime settings stored in the database (instance name, registration,
storage), which admins edit through ``/api/admin/settings``.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

__all__ = ["Config", "ConfigError", "config", "load_config"]

CONFIG_FILE_ENV = "TINYBASE_CONFIG"
DEFAULT_CONFIG_FILE = "tinybase.toml"

# A TOML section whose keys do not simply become "<section>_<key>".
_SECTION_PREFIXES = {"database": "db"}
# Sections that hold structured values rather than scalar settings.
_STRUCTURED_SECTIONS = {"record_apis"}


class ConfigError(ValueError):
    """The configuration file or environment holds an unknown key or a bad value."""


class Config(BaseSettings):
    """Static configuration; see the module docstring for where values come from."""

    model_config = SettingsConfigDict(env_prefix="TINYBASE_", extra="forbid", frozen=True)

    server_host: str = "0.0.0.0"
    server_port: int = 8000
    debug: bool = False
    log_level: str = "info"
    db_url: str = "sqlite:///./tinybase.db"
    auth_token_ttl_hours: int = 24
    functions_path: str = "./functions"
    scheduler_enabled: bool = True
    scheduler_interval_seconds: int = 5
    scheduler_token_cleanup_interval: int = 60
    cors_allow_origins: list[str] = Field(default_factory=lambda: ["*"])
    admin_static_dir: str = "builtin"
    extensions_enabled: bool = True
    extensions_path: str = "~/.tinybase/extensions"

    # Beyond the seed's table.
    public_url: str = "http://127.0.0.1:8000"
    auth_access_token_ttl_minutes: int = 15
    auth_revocation_poll_seconds: float = 2.0
    auth_login_attempts_per_minute: int = 10
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "tinybase@localhost"
    smtp_starttls: bool = True
    record_apis: list[dict[str, Any]] = Field(default_factory=list)

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
    """Read the configuration now (environment > tinybase.toml > defaults)."""
    try:
        return Config(**overrides)
    except ValueError as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(str(exc)) from exc


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
