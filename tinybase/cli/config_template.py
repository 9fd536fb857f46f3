"""The commented ``tinybase.toml`` that ``tinybase init`` writes: every setting, its default.

The file is generated from :class:`tinybase.settings.Config` (each field's description, its
environment variable and, for settings unset by default, its first example), so it cannot
fall behind the code.
"""

from __future__ import annotations

import json
from typing import Any

from tinybase.settings import Config, environment_variable

__all__ = ["describe", "render_config_template", "toml_location"]

# The TOML section of a setting is its name's first word, except these.
_SECTION_NAMES = {"db": "database"}
_TOP_LEVEL = {"debug"}


def describe(name: str) -> str:
    """The description of config field ``name`` (its ``Field(description=...)``)."""
    return Config.model_fields[name].description or "(undocumented)"


def toml_location(name: str) -> tuple[str | None, str]:
    """Where config field ``name`` lives in the TOML file: ``(section or None, key)``."""
    if name in _TOP_LEVEL or "_" not in name:
        return None, name
    first, rest = name.split("_", 1)
    return _SECTION_NAMES.get(first, first), rest


def render_config_template() -> str:
    """The text of a ``tinybase.toml`` with every setting commented out at its default."""
    defaults = Config.model_construct()
    sections: dict[str | None, list[str]] = {}
    for name in Config.model_fields:
        if name == "record_apis":
            continue
        section, key = toml_location(name)
        sections.setdefault(section, []).extend(_setting_lines(name, key, getattr(defaults, name)))
    parts = [_HEADER, "", *sections.pop(None, [])]
    for section, lines in sections.items():
        parts.extend(["", f"[{section}]", *lines])
    parts.extend(["", *_RECORD_APIS_EXAMPLE])
    return "\n".join(parts) + "\n"


def _setting_lines(name: str, key: str, default: Any) -> list[str]:
    lines = [f"# {describe(name)}", f"# (environment: {environment_variable(name)})"]
    if default is None:
        examples = Config.model_fields[name].examples or ["..."]
        lines.append(f"# {key} = {_toml_value(examples[0])}  # default: unset")
    else:
        lines.append(f"# {key} = {_toml_value(default)}")
    return lines


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    # JSON strings, numbers and arrays of them are valid TOML as written.
    return json.dumps(value)


_HEADER = """\
# TinyBase configuration. Every setting is shown commented out, at its default.
# Precedence: environment variables (named with each setting: [server] port is
# TINYBASE_SERVER_PORT, [database] url is TINYBASE_DB_URL) over this file over the
# defaults. An unknown key here or in the environment stops the server at start-up.
# Runtime settings (instance name, registration, storage) live in the database instead:
# see GET/PATCH /api/admin/settings."""

_RECORD_APIS_EXAMPLE = [f"# {describe('record_apis')}", "# [[record_apis]]"]
