"""Preparing a script's environment with uv (blocking: run it in a worker thread).

uv comes from its PyPI wheel (a dependency of TinyBase), never from the system. It runs
with a scrubbed environment: dependencies may build from source distributions, whose build
scripts are arbitrary code, so they get the variables uv and the network need (``UV_*``,
proxies, certificates, locale, ``HOME``) and nothing of the server's configuration. It runs
in the functions folder, so a ``uv.toml`` there (and the user's own uv configuration)
applies: indexes, mirrors, ``exclude-newer``.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tinybase.functions.scripts import environment_script, script_metadata
from tinybase.functions.sdk_bundle import sdk_wheel

__all__ = ["PrepareError", "prepare_environment", "uv_binary"]

_PASSED = ("PATH", "HOME", "USER", "LANG", "LANGUAGE", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR")
_PASSED_PREFIXES = ("UV_", "LC_", "XDG_")
_PROXIES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


class PrepareError(Exception):
    """uv could not prepare the environment (the message is uv's own, trimmed)."""


def uv_binary() -> str:
    """The uv executable of the ``uv`` package."""
    import uv

    return uv.find_uv_bin()


def prepare_environment(key: str, source: str, *, work: Path, cwd: Path, timeout: float) -> Path:
    """Create or update the environment of a script and return its interpreter.

    Args:
        key: names the environment (stable per function: uv keys environments by path).
        source: the script's text.
        work: TinyBase's folder for environment scripts and the SDK wheel.
        cwd: where uv runs (its project-level configuration is looked up from there).
        timeout: seconds uv may take.

    Raises:
        ScriptError: the metadata block is missing or bad.
        PrepareError: uv failed or timed out.
    """
    metadata = script_metadata(source)
    script = work / "environments" / f"{key}.py"
    text = environment_script(metadata, sdk_wheel(work))
    script.parent.mkdir(parents=True, exist_ok=True)
    if not script.is_file() or script.read_text(encoding="utf-8") != text:
        script.write_text(text, encoding="utf-8")
    command = [uv_binary(), "sync", "--script", str(script), "--output-format", "json"]
    try:
        done = subprocess.run(
            command,
            cwd=cwd,
            env=_uv_environment(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise PrepareError(f"uv took longer than {timeout:g} s") from None
    if done.returncode != 0:
        raise PrepareError(_trim(done.stderr) or f"uv exited with status {done.returncode}")
    try:
        return Path(json.loads(done.stdout)["sync"]["environment"]["python"]["path"])
    except (ValueError, KeyError, TypeError):
        raise PrepareError(f"uv's answer is not understood: {_trim(done.stdout)}") from None


def _uv_environment() -> dict[str, str]:
    return {
        name: value
        for name, value in os.environ.items()
        if name in _PASSED or name.startswith(_PASSED_PREFIXES) or name.lower() in _PROXIES
    }


def _trim(text: str, limit: int = 4000) -> str:
    text = text.strip()
    return text if len(text) <= limit else "..." + text[-limit:]
