"""Start-up import of the in-process function modules of ``functions_path``.

Every ``*.py`` file of the folder (not starting with ``_``, not an SDK script) is imported
as ``tinybase_functions_<folder hash>.<stem>``: one namespace per folder, so two instances
of one process (tests) with folders of their own never mix up their functions, and the same
folder loaded again reuses its modules instead of registering every function twice.

An SDK script (a PEP 723 ``# /// script`` block: issue 11's isolated functions) is skipped.
A module that fails to import is logged and reported with its file and error
(:class:`LoadFailure`); the others still load and the server still starts.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import re
import sys
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from tinybase.extensions.hooks import HookSpec
from tinybase.functions import registry
from tinybase.functions.registry import FunctionSpec

__all__ = [
    "FOLDER_NAMESPACE",
    "FunctionLoad",
    "LoadFailure",
    "instance_functions",
    "instance_hooks",
    "is_sdk_script",
    "load_functions",
]

logger = logging.getLogger("tinybase.functions")

FOLDER_NAMESPACE = "tinybase_functions_"
_SPECS_ATTRIBUTE = "__tinybase_functions__"
_STAMP_ATTRIBUTE = "__tinybase_stamp__"
# PEP 723: a line that is exactly "# /// script" opens an inline metadata block.
_SCRIPT_BLOCK = re.compile(r"^# /// script\s*$", re.MULTILINE)


@dataclass(frozen=True)
class LoadFailure:
    """A function module that could not be imported.

    Attributes:
        file: its path.
        error: the exception, one line (``ModuleNotFoundError: No module named 'x'``).
        traceback: the full traceback (for admins and the log).
    """

    file: str
    error: str
    traceback: str

    def public(self) -> dict[str, str]:
        return {"file": self.file, "error": self.error, "traceback": self.traceback}


@dataclass
class FunctionLoad:
    """What :func:`load_functions` found: the functions registered and the failures."""

    folder: str
    specs: list[FunctionSpec] = field(default_factory=list)
    modules: list[str] = field(default_factory=list)
    failures: list[LoadFailure] = field(default_factory=list)


def is_sdk_script(source: str) -> bool:
    """Whether ``source`` carries a PEP 723 ``# /// script`` block (an SDK function)."""
    return _SCRIPT_BLOCK.search(source) is not None


def load_functions(folder: str | Path) -> FunctionLoad:
    """Import the function modules of ``folder`` (a missing folder has none).

    Returns:
        The functions they registered, the modules imported and the files that failed.
    """
    root = Path(folder).expanduser().resolve()
    load = FunctionLoad(folder=str(root))
    if not root.is_dir():
        return load
    namespace = FOLDER_NAMESPACE + hashlib.sha1(str(root).encode()).hexdigest()[:12]
    for path in sorted(root.glob("*.py")):
        if path.name.startswith("_"):
            continue
        _load_file(path, f"{namespace}.{path.stem}", load)
    return load


def _load_file(path: Path, module_name: str, load: FunctionLoad) -> None:
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _failed(load, path, exc)
        return
    if is_sdk_script(source):
        return
    try:
        specs = _import(path, module_name)
    except Exception as exc:  # any error of the user's module: reported, the rest goes on
        _failed(load, path, exc)
        return
    load.specs.extend(specs)
    load.modules.append(module_name)


def _import(path: Path, module_name: str) -> list[FunctionSpec]:
    """Import ``path`` as ``module_name`` (once per process while the file is unchanged)
    and return the functions it registered."""
    stamp = path.stat().st_mtime_ns
    cached = sys.modules.get(module_name)
    if cached is not None and getattr(cached, _STAMP_ATTRIBUTE, None) == stamp:
        return list(getattr(cached, _SPECS_ATTRIBUTE, []))
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    before = len(registry.collected_functions())
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    registered = list(registry.collected_functions()[before:])
    _remember(module, stamp, registered)
    return registered


def _remember(module: ModuleType, stamp: int, specs: list[FunctionSpec]) -> None:
    setattr(module, _STAMP_ATTRIBUTE, stamp)
    setattr(module, _SPECS_ATTRIBUTE, specs)


def _failed(load: FunctionLoad, path: Path, exc: BaseException) -> None:
    error = "".join(traceback.format_exception_only(exc)).strip()
    detail = "".join(traceback.format_exception(exc))
    logger.error("function module %s failed to import: %s", path, error, exc_info=exc)
    load.failures.append(LoadFailure(file=str(path), error=error, traceback=detail))


def instance_functions(load: FunctionLoad) -> list[FunctionSpec]:
    """The functions an instance serves: those of its folder, then every function
    registered by other code (extensions, installed packages), but not those of other
    instances' folders."""
    others = [
        spec
        for spec in registry.collected_functions()
        if not spec.module.startswith(FOLDER_NAMESPACE)
    ]
    return [*load.specs, *others]


def instance_hooks(load: FunctionLoad, hooks: Iterable[HookSpec]) -> list[HookSpec]:
    """Of ``hooks``, those an instance runs: all but those of other instances' folders
    (a function module may register hooks, as the seed's example does)."""
    mine = set(load.modules)
    return [hook for hook in hooks if _is_mine(hook.module, mine)]


def _is_mine(module: str, mine: set[str]) -> bool:
    return not module.startswith(FOLDER_NAMESPACE) or module in mine
