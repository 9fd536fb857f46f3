"""PEP 723 scripts: reading a script's ``# /// script`` block and writing the metadata-only
script uv prepares its environment from.

TinyBase never hands the user's file itself to uv: it writes, for each function, an
*environment script* holding only the metadata block, with ``tinybase-sdk`` pointed at the
SDK bundled with the running TinyBase (``[tool.uv.sources]``), so uv never looks for a
same-named package on an index. The environment is keyed by that file's path (stable per
function), so editing a script's dependencies updates one environment in place; the user's
file runs unchanged (its line numbers are its own in tracebacks).
"""

from __future__ import annotations

import json
import re
import tomllib
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

__all__ = ["SDK_DISTRIBUTION", "ScriptError", "environment_script", "script_metadata"]

SDK_DISTRIBUTION = "tinybase-sdk"
# The regular expression of PEP 723 ("Inline script metadata", reference implementation).
_BLOCK = re.compile(r"(?m)^# /// (?P<type>[a-zA-Z0-9-]+)$\s(?P<content>(^#(| .*)$\s)+)^# ///$")
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


class ScriptError(ValueError):
    """The script's metadata block is missing, malformed or lacks ``tinybase-sdk``."""


def script_metadata(source: str) -> dict[str, Any]:
    """The parsed TOML of ``source``'s ``script`` block.

    Raises:
        ScriptError: no block, two blocks, bad TOML, or no ``tinybase-sdk`` dependency.
    """
    blocks = [match for match in _BLOCK.finditer(source) if match.group("type") == "script"]
    if not blocks:
        raise ScriptError("the script has no '# /// script' metadata block")
    if len(blocks) > 1:
        raise ScriptError("the script has more than one '# /// script' block")
    content = "".join(
        line[2:] if line.startswith("# ") else line[1:]
        for line in blocks[0].group("content").splitlines(keepends=True)
    )
    try:
        metadata = tomllib.loads(content)
    except tomllib.TOMLDecodeError as exc:
        raise ScriptError(f"the script's metadata block is not valid TOML: {exc}") from None
    dependencies = metadata.get("dependencies", [])
    if not isinstance(dependencies, list) or not all(isinstance(d, str) for d in dependencies):
        raise ScriptError("the script's 'dependencies' must be a list of strings")
    if not any(_distribution(d) == SDK_DISTRIBUTION for d in dependencies):
        raise ScriptError(f"the script's dependencies must name {SDK_DISTRIBUTION!r}")
    return metadata


def environment_script(metadata: dict[str, Any], sdk_wheel: Path) -> str:
    """The metadata-only script of a function's environment: ``metadata`` with
    ``tool.uv.sources.tinybase-sdk`` set to the bundled SDK's wheel."""
    document = json.loads(json.dumps(metadata, default=_plain))  # a deep copy
    uv = document.setdefault("tool", {}).setdefault("uv", {})
    uv.setdefault("sources", {})[SDK_DISTRIBUTION] = {"path": str(sdk_wheel)}
    lines = [f"{json.dumps(key)} = {_toml(value)}" for key, value in document.items()]
    body = "".join(f"# {line}\n" for line in lines)
    return f"# /// script\n{body}# ///\n"


def _distribution(requirement: str) -> str | None:
    match = _NAME.match(requirement)
    return None if match is None else re.sub(r"[-_.]+", "-", match.group(1)).lower()


def _plain(value: Any) -> str:
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    raise TypeError(f"unexpected {type(value).__name__} in script metadata")


def _toml(value: Any) -> str:
    """``value`` as a TOML value on one line (inline tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    pairs = ", ".join(f"{json.dumps(key)} = {_toml(inner)}" for key, inner in value.items())
    return "{" + pairs + "}"
