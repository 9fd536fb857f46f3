"""TinyBase settings: static ``config`` and runtime ``settings``.

``config`` (``Config``) is read once at start-up from the
environment, ``tinybase.toml`` and defaults. ``settings`` holds the runtime settings stored in
the database, which admins edit through ``/api/admin/settings``.
"""

from tinybase.settings.runtime import (
    SECRET_MASK,
    RuntimeSettings,
    SettingsStore,
    StorageSettings,
    settings,
)
from tinybase.settings.static import (
    Config,
    ConfigError,
    check_environment,
    config,
    environment_variable,
    flatten_toml,
    load_config,
)

__all__ = [
    "SECRET_MASK",
    "Config",
    "ConfigError",
    "RuntimeSettings",
    "SettingsStore",
    "StorageSettings",
    "check_environment",
    "config",
    "environment_variable",
    "flatten_toml",
    "load_config",
    "settings",
]
