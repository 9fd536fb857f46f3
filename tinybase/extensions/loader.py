"""Loading extensions at start-up: folders in ``extensions_path`` and installed distributions.

Two ways to ship an extension (docs/extensions.md):

* **A folder** in ``extensions_path`` holding ``extension.toml`` and a module or package::

      extensions/
        audit/
          extension.toml      name = "audit", version = "1.0.0", description = "...",
                              module = "audit_hooks"   (default: the folder's name)
          audit_hooks.py      (or audit_hooks/__init__.py)

  The folder goes on ``sys.path`` and ``module`` is imported, so the extension's own
  imports work as they would in a script next to it.
* **A distribution** that declares an entry point in the group ``tinybase.extensions``
  (``[project.entry-points."tinybase.extensions"] audit = "tinybase_audit"``): the entry
  point is loaded (importing its module).

Importing is all it takes: the module's decorators register its hooks and functions. What
each extension registered is found afterwards by module name. A folder or entry point that
fails (no manifest, a bad manifest, an import error) is recorded with its file and error and
logged; the server still starts, and the hooks a failed module registered before failing are
dropped.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import sys
import tomllib
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinybase.extensions.hooks import HookSpec, collected_hooks, forget_hooks

__all__ = [
    "ENTRY_POINT_GROUP",
    "MANIFEST",
    "Extension",
    "ExtensionFailure",
    "Extensions",
    "load_extensions",
]

logger = logging.getLogger("tinybase.extensions")

ENTRY_POINT_GROUP = "tinybase.extensions"
MANIFEST = "extension.toml"
_MANIFEST_KEYS = {"name", "version", "description", "module"}


@dataclass(frozen=True)
class Extension:
    """One loaded extension.

    Attributes:
        name, version, description: from its manifest (folders) or distribution (entry points).
        source: ``"folder"`` or ``"entry point"``.
        location: the folder, or ``distribution name (entry point value)``.
        module: the module imported; the extension's hooks and functions are those
            registered by it or its submodules.
    """

    name: str
    version: str | None
    description: str | None
    source: str
    location: str
    module: str

    def owns(self, module: str) -> bool:
        """Whether ``module`` is this extension's module or one of its submodules."""
        return module == self.module or module.startswith(self.module + ".")

    def describe(self, hooks: Iterable[HookSpec], functions: Iterable[Any] = ()) -> dict[str, Any]:
        """As ``GET /api/admin/extensions`` shows it, with what it registered."""
        return {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "source": self.source,
            "location": self.location,
            "module": self.module,
            "hooks": [
                {"kind": spec.kind.value, "target": spec.target, "handler": spec.name}
                for spec in hooks
                if self.owns(spec.module)
            ],
            "functions": [spec.name for spec in functions if self.owns(spec.module)],
        }


@dataclass(frozen=True)
class ExtensionFailure:
    """An extension that could not be loaded: where, and why."""

    name: str
    source: str
    location: str
    file: str | None
    line: int | None
    error: str

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "location": self.location,
            "file": self.file,
            "line": self.line,
            "error": self.error,
        }


@dataclass
class Extensions:
    """What :func:`load_extensions` found (on ``AppState.extensions``)."""

    enabled: bool = True
    loaded: list[Extension] = field(default_factory=list)
    failed: list[ExtensionFailure] = field(default_factory=list)

    def describe(self, hooks: Iterable[HookSpec], functions: Iterable[Any] = ()) -> dict[str, Any]:
        hooks, functions = tuple(hooks), tuple(functions)
        return {
            "enabled": self.enabled,
            "loaded": [extension.describe(hooks, functions) for extension in self.loaded],
            "failed": [failure.describe() for failure in self.failed],
        }


class _LoadError(Exception):
    """A problem found before importing (the manifest), with the file it is about."""

    def __init__(self, message: str, file: Path) -> None:
        super().__init__(message)
        self.file = file


def load_extensions(path: str | Path, *, enabled: bool = True) -> Extensions:
    """Import every extension folder in ``path`` (in name order), then every entry point of
    the group ``tinybase.extensions``; record what loaded and what failed."""
    result = Extensions(enabled=enabled)
    if not enabled:
        return result
    folder = Path(path).expanduser()
    if folder.is_dir():
        for child in sorted(folder.iterdir()):
            if child.is_dir() and not child.name.startswith((".", "_")):
                _load(result, child.name, "folder", str(child), lambda c=child: _import_folder(c))
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = entry_point.dist
        location = f"{dist.name if dist else '?'} ({entry_point.value})"
        _load(
            result,
            entry_point.name,
            "entry point",
            location,
            lambda e=entry_point: _import_entry_point(e),
        )
    for failure in result.failed:
        logger.error(
            "extension %s (%s) failed to load: %s", failure.name, failure.location, failure.error
        )
    for extension in result.loaded:
        logger.info("extension %s loaded from %s", extension.name, extension.location)
    return result


def _load(result: Extensions, name: str, source: str, location: str, load: Any) -> None:
    before = len(collected_hooks())
    try:
        result.loaded.append(load())
    except Exception as exc:
        # Hooks the module registered before it failed must not run half an extension.
        forget_hooks(collected_hooks()[before:])
        file, line = _where(exc)
        result.failed.append(
            ExtensionFailure(name, source, location, file, line, f"{type(exc).__name__}: {exc}")
        )


def _import_folder(folder: Path) -> Extension:
    manifest = _manifest(folder)
    module = str(manifest.get("module") or folder.name.replace("-", "_"))
    existing = sys.modules.get(module.partition(".")[0])
    existing_file = getattr(existing, "__file__", None)
    if existing is not None and (
        existing_file is None or not Path(existing_file).resolve().is_relative_to(folder.resolve())
    ):
        raise _LoadError(
            f"module name {module!r} is taken by {existing_file or existing}", folder / MANIFEST
        )
    if (
        not (folder / f"{module.partition('.')[0]}.py").is_file()
        and not (folder / module.partition(".")[0]).is_dir()
    ):
        raise _LoadError(f"no module {module!r} in {folder}", folder / MANIFEST)
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    importlib.import_module(module)
    return Extension(
        name=str(manifest.get("name") or folder.name),
        version=_text(manifest.get("version")),
        description=_text(manifest.get("description")),
        source="folder",
        location=str(folder),
        module=module,
    )


def _import_entry_point(entry_point: importlib.metadata.EntryPoint) -> Extension:
    entry_point.load()
    dist = entry_point.dist
    metadata = dist.metadata if dist is not None else None
    return Extension(
        name=entry_point.name,
        version=dist.version if dist is not None else None,
        description=metadata.get("Summary") if metadata is not None else None,
        source="entry point",
        location=f"{dist.name if dist else '?'} ({entry_point.value})",
        module=entry_point.module,
    )


def _manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    if not path.is_file():
        raise _LoadError(f"no {MANIFEST} in {folder}", path)
    try:
        manifest = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise _LoadError(f"{path}: {exc}", path) from exc
    unknown = set(manifest) - _MANIFEST_KEYS
    if unknown:
        raise _LoadError(f"{path}: unknown keys {sorted(unknown)}", path)
    return manifest


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _where(exc: Exception) -> tuple[str | None, int | None]:
    """The file (and line) an extension failed in: the manifest, the line of a syntax error,
    or the innermost frame of the import's traceback."""
    if isinstance(exc, _LoadError):
        return str(exc.file), None
    if isinstance(exc, SyntaxError) and exc.filename:
        return exc.filename, exc.lineno
    frames = traceback.extract_tb(exc.__traceback__)
    # The innermost frame outside the import machinery and this loader.
    for frame in reversed(frames):
        if "importlib" not in frame.filename and frame.filename != __file__:
            return frame.filename, frame.lineno
    return None, None
