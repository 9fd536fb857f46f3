"""Static configuration: ``config``, read once at start-up.

Values come from, in order of precedence: environment variables (``TINYBASE_<NAME>``, the
field's name in capitals: ``TINYBASE_DB_URL``, see :func:`environment_variable`), a
``tinybase.toml`` file (``TINYBASE_CONFIG`` names another path), and the defaults below. TOML
sections map one to one onto names: ``[server] port`` is ``server_port``, ``[database] url`` is
``db_url``. An unknown key (in the file or as a ``TINYBASE_*`` variable) is an error at
start-up.
"""

from __future__ import annotations

import difflib
import logging
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

__all__ = [
    "Config",
    "ConfigError",
    "check_environment",
    "config",
    "environment_variable",
    "flatten_toml",
    "load_config",
]

CONFIG_FILE_ENV = "TINYBASE_CONFIG"
DEFAULT_CONFIG_FILE = "tinybase.toml"
ENV_PREFIX = "TINYBASE_"
# Environment variables with the prefix that are not config fields but are read elsewhere.
OTHER_ENV_VARIABLES = frozenset(
    {
        CONFIG_FILE_ENV,
        "TINYBASE_ADMIN_EMAIL",
        "TINYBASE_ADMIN_PASSWORD",
        # Read by the test suite's fixtures (CI sets them): a missing server fails, not skips.
        "TINYBASE_REQUIRE_PG",
        "TINYBASE_REQUIRE_BROWSER",
        "TINYBASE_REQUIRE_PYTHON313",
        "TINYBASE_REQUIRE_S3",
        "TINYBASE_PYTHON313",  # the interpreter for TrailBase's Python client
    }
)

# A TOML section whose keys do not simply become "<section>_<key>".
_SECTION_PREFIXES = {"database": "db"}
# Sections that hold structured values rather than scalar settings.
_STRUCTURED_SECTIONS = {"record_apis", "function_secrets"}

logger = logging.getLogger("tinybase.settings")


class ConfigError(ValueError):
    """The configuration file or environment holds an unknown key or a bad value."""


class Config(BaseSettings):
    """Static configuration; see the module docstring for where values come from."""

    model_config = SettingsConfigDict(env_prefix="TINYBASE_", extra="forbid", frozen=True)

    # The seed's table.
    server_host: str = Field("0.0.0.0", description="Interface to listen on (0.0.0.0: all).")
    server_port: int = Field(8000, description="TCP port to listen on.")
    server_max_body_size: int = Field(
        1_048_576,
        ge=0,
        description="Largest request body accepted, in bytes (larger: 413 before it is read).",
    )
    debug: bool = Field(False, description="Debug mode (never in production).")
    log_level: str = Field("info", description="critical, error, warning, info, debug or trace.")
    opentelemetry_enabled: bool = Field(
        False,
        description="Report requests to the OpenTelemetry providers set up in this process "
        "(FastAPI's native telemetry; off: no per-request provider checks).",
    )
    db_url: str = Field(
        "sqlite:///./tinybase.db",
        description="sqlite:///path/to/file.db or postgresql://user:password@host/dbname.",
    )
    db_write_wait_seconds: float = Field(
        30.0,
        gt=0,
        description="SQLite: how long a write waits for another process's write lock "
        "(then 503 with Retry-After).",
    )
    auth_token_ttl_hours: int = Field(
        24, description="Lifetime of a refresh token (a login session), in hours."
    )
    functions_path: str = Field("./functions", description="Folder of the functions.")
    function_timeout_seconds: float = Field(
        30.0, gt=0, description="Time limit of one function call, in seconds (then 504)."
    )
    function_max_payload_bytes: int = Field(
        1_048_576, ge=1, description="Largest JSON body of a function call (then 413)."
    )
    function_threads: int = Field(
        4, ge=1, description="How many sync function calls run at once in worker threads."
    )
    function_workers_max: int = Field(
        4, ge=1, description="Isolated functions: worker processes per function at most."
    )
    function_worker_idle_seconds: float = Field(
        300.0, gt=0, description="Isolated functions: a worker idle this long is stopped."
    )
    function_worker_start_seconds: float = Field(
        60.0, gt=0, description="Isolated functions: time a new worker has to load its script."
    )
    function_memory_limit_mb: int | None = Field(
        1024,
        examples=[1024],
        ge=64,
        description="Isolated functions: address-space limit of a worker, in MiB "
        "(RLIMIT_AS; unset: none).",
    )
    function_max_concurrent_calls: int = Field(
        64, ge=1, description="Isolated functions: calls of one function at once (then 429)."
    )
    function_max_calls_per_user: int = Field(
        32, ge=1, description="Isolated functions: calls by one user at once (then 429)."
    )
    function_max_result_bytes: int = Field(
        1_048_576, ge=1, description="Isolated functions: largest JSON result of a call."
    )
    function_output_limit_chars: int = Field(
        65_536, ge=0, description="Isolated functions: printed output kept per call."
    )
    function_prepare_seconds: float = Field(
        600.0, gt=0, description="Isolated functions: time uv has to prepare an environment."
    )
    function_env_allow: list[str] = Field(
        default_factory=list,
        description="Isolated functions: server environment variables passed to workers.",
    )
    function_secrets: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="Isolated functions: environment variables per function, "
        "[function_secrets.NAME] VAR = value.",
    )
    function_deploy_poll_seconds: float = Field(
        2.0, gt=0, description="How often deployed function versions are re-read, in seconds."
    )
    function_watch: bool = Field(
        True, description="Watch functions_path for added, changed and removed SDK scripts."
    )
    function_work_path: str | None = Field(
        None,
        description="TinyBase's folder for function environments and deployed scripts "
        "(unset: <functions_path>/.tinybase).",
        examples=["/var/lib/tinybase/functions"],
    )
    scheduler_enabled: bool = Field(True, description="Run scheduled functions in this process.")
    scheduler_interval_seconds: int = Field(
        5, ge=1, description="How often the scheduler looks for due schedules, in seconds."
    )
    scheduler_token_cleanup_interval: int = Field(
        60,
        description="How often expired sessions, reset tokens and old function call records "
        "are deleted, in seconds.",
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
        description="The URL users reach this server at (the base of reset links; of the "
        "setup link when set, which otherwise names the address the server listens on).",
    )
    auth_access_token_ttl_minutes: int = Field(
        15, description="Lifetime of an access token (JWT), in minutes."
    )
    auth_revocation_poll_seconds: float = Field(
        2.0,
        description="How often every process picks up logouts and demotions, in seconds.",
    )
    auth_login_attempts_per_minute: int = Field(
        10,
        description="Failed password attempts (login, password change) allowed per minute, "
        "per IP and per account; also anonymous token attempts (reset confirmation, admin "
        "setup) and reset requests per IP.",
    )
    auth_password_reset_mails_per_hour: int = Field(
        3, description="Password-reset mails sent to one address per hour (then silence)."
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
    scheduler_lease_seconds: float = Field(
        30.0,
        gt=0,
        description="How long a claimed schedule run is held without its process renewing "
        "the claim (renewed every scheduler tick); then another process retries it.",
    )
    scheduler_max_attempts: int = Field(
        1,
        ge=1,
        description="How many times a scheduled run is attempted when its process dies "
        "mid-run (1: never retried, since it may have done part of its work).",
    )
    scheduler_call_retention_days: int = Field(
        30,
        ge=0,
        description="Function call records are kept this many days (0: for ever).",
    )
    settings_poll_seconds: float = Field(
        2.0,
        description="How often runtime settings (/api/admin/settings) are re-read, in seconds.",
    )
    extensions_hook_queue_size: int = Field(
        10_000,
        ge=1,
        description="After-commit hook events waiting to run before new ones are dropped.",
    )
    extensions_drain_seconds: float = Field(
        10.0,
        ge=0,
        description="On a graceful stop, how long queued hook events may still run, in seconds.",
    )
    realtime_heartbeat_seconds: float = Field(
        15.0, gt=0, description="Seconds of silence after which a realtime stream sends a ping."
    )
    realtime_queue_size: int = Field(
        256,
        ge=1,
        description="Events waiting for one realtime client; past this it is disconnected.",
    )
    realtime_max_connections: int = Field(
        10_000, ge=1, description="Realtime connections one server process accepts at most."
    )
    realtime_max_connections_per_user: int = Field(
        20, ge=1, description="Realtime connections of one user per server process, at most."
    )
    realtime_shared: bool | None = Field(
        None,
        description=(
            "Carry realtime events between server processes (through the database): unset "
            "means yes on PostgreSQL, and on SQLite when `tinybase serve --workers` > 1."
        ),
        examples=[True],
    )
    realtime_poll_seconds: float = Field(
        0.02,
        gt=0,
        description="SQLite, several processes: how often each looks for the others' events.",
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
                hint = _did_you_mean(name, known, quote=True)
                raise ConfigError(f"{source}: unknown setting {name!r}{hint}")
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


def environment_variable(name: str) -> str:
    """The environment variable of config field ``name``: ``db_url`` -> ``TINYBASE_DB_URL``."""
    return ENV_PREFIX + name.upper()


def check_environment(environ: Mapping[str, str] | None = None) -> None:
    """Reject ``TINYBASE_*`` variables that name no setting (a typo must not go unnoticed).

    Raises:
        ConfigError: naming every unknown variable, each with the known one it most
            resembles (``TINYBASE_DB_ULR (did you mean TINYBASE_DB_URL?)``).
    """
    environ = os.environ if environ is None else environ
    known = {environment_variable(name) for name in Config.model_fields} | OTHER_ENV_VARIABLES
    unknown = sorted(
        name
        for name in environ
        if name.upper().startswith(ENV_PREFIX) and name.upper() not in known
    )
    if unknown:
        named = ", ".join(name + _did_you_mean(name.upper(), known) for name in unknown)
        raise ConfigError(f"unknown environment variable(s): {named}")


def _did_you_mean(name: str, known: set[str], *, quote: bool = False) -> str:
    """`` (did you mean X?)`` for the known name closest to ``name``, or nothing."""
    matches = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.75)
    if not matches:
        return ""
    return f" (did you mean {matches[0]!r}?)" if quote else f" (did you mean {matches[0]}?)"


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
