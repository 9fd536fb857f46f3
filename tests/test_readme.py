"""The README's promises: what ``make serve`` listens on, its links, and its examples."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def make_serve_command(*variables: str) -> str:
    """The command ``make serve`` would run (``make -n``: printed, never run)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    # Run by `make test`: the outer make's flags must not reach this one.
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}
    command = ["make", "-n", "serve", *variables]
    dry_run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return dry_run.stdout.splitlines()[-1]


def test_make_serve_listens_on_loopback_as_the_readme_says() -> None:
    assert make_serve_command() == ".venv/bin/tinybase serve --host 127.0.0.1 --port 8000"
    assert "serves http://127.0.0.1:8000" in README
    assert "`make serve` listens on 127.0.0.1 only" in README


def test_make_serve_listens_on_every_interface_when_asked() -> None:
    assert make_serve_command("HOST=0.0.0.0") == (
        ".venv/bin/tinybase serve --host 0.0.0.0 --port 8000"
    )
    assert "`make serve HOST=0.0.0.0`" in README
