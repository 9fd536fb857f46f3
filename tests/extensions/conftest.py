"""Fixtures for extension tests: an empty hook collection, and folders and distributions
written into temporary directories (cleaned from ``sys.modules`` and ``sys.path`` after)."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tinybase.extensions import hooks
from tinybase.functions import registry


@pytest.fixture
def no_hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Empty hook and function collections for this test (the decorators fill them,
    build_state reads them)."""
    monkeypatch.setattr(hooks, "_collected", [])
    monkeypatch.setattr(registry, "_collected", [])


@pytest.fixture
def forget_modules() -> Iterator[Callable[[str], None]]:
    """Call with a module name to drop it (and its submodules) from sys.modules after the
    test, so the next test imports it afresh."""
    names: list[str] = []
    path = list(sys.path)
    yield names.append
    sys.path[:] = path
    for loaded in list(sys.modules):
        if any(loaded == name or loaded.startswith(name + ".") for name in names):
            del sys.modules[loaded]


@pytest.fixture
def extension_dir(tmp_path: Path, no_hooks, forget_modules) -> Callable[..., Path]:
    """``make(folder, files, manifest=...)``: an extension folder in ``tmp/extensions``."""
    root = tmp_path / "extensions"
    root.mkdir()

    def make(folder: str, files: dict[str, str], manifest: str | None = "") -> Path:
        place = root / folder
        place.mkdir()
        if manifest is not None:
            (place / "extension.toml").write_text(textwrap.dedent(manifest), encoding="utf-8")
        for name, text in files.items():
            target = place / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(textwrap.dedent(text), encoding="utf-8")
            forget_modules(Path(name).parts[0].removesuffix(".py"))
        return root

    return make


@pytest.fixture
def installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_hooks, forget_modules
) -> Callable[..., None]:
    """``install(dist, package, code, entry_points)``: a distribution "installed" into a
    site directory put on sys.path (a ``.dist-info`` with METADATA and entry_points.txt), as
    ``pip install`` would leave it; importlib.metadata finds it there."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))

    def install(dist: str, package: str, code: str, entry_points: dict[str, str]) -> None:
        (site / package).mkdir()
        (site / package / "__init__.py").write_text(textwrap.dedent(code), encoding="utf-8")
        info = site / f"{dist.replace('-', '_')}-1.2.3.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\nSummary: {dist} for tests\n",
            encoding="utf-8",
        )
        lines = "".join(f"{name} = {value}\n" for name, value in entry_points.items())
        (info / "entry_points.txt").write_text(f"[tinybase.extensions]\n{lines}", encoding="utf-8")
        forget_modules(package)

    return install
