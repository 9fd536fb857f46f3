"""Dependencies point down only: a walk over every module's imports (``ast``, no importing).

Layers, lowest first (see ARCHITECTURE.md and the conventions):

    tinybase (version), utils, errors      import nothing else from tinybase
    data                                   standalone: imports nothing else from tinybase
    db                                     data, utils, errors
    settings                               db, data, utils, errors
    services (auth, collections, records, functions, ...)
                                           never api or cli, never FastAPI/Starlette;
                                           records never imports collections
    api                                    anything but cli
    cli                                    anything
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parent.parent / "tinybase"

BASE = {"tinybase", "utils", "errors"}
RANKS = {"tinybase": 0, "utils": 0, "errors": 0, "data": 0, "db": 1, "settings": 2}
SERVICE_RANK, API_RANK, CLI_RANK = 3, 4, 5
WEB_FRAMEWORKS = {"fastapi", "starlette"}
# Type-only imports of the web framework a service may make, each with its reason. The seed
# types ``Context.request`` as the Request; the module imports it under TYPE_CHECKING only
# (at run time the field takes any value), so the service never loads the framework.
TYPE_ONLY_WEB_IMPORTS = {("tinybase.functions.context", "starlette.requests")}


@dataclass(frozen=True)
class Import:
    source: str  # importing module, e.g. "tinybase.auth.users"
    target: str  # imported module, e.g. "tinybase.db.models", or a third-party top name
    line: int
    top_level: bool  # executed at import time (not in a function, not under TYPE_CHECKING)
    type_only: bool = False  # under ``if TYPE_CHECKING:``: never executed


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE_ROOT.rglob("*.py"))}


def imports_of(name: str, path: Path, known: dict[str, Path]) -> Iterator[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    yield from _walk(tree, name, package, known, top_level=True, type_only=False)


def _walk(
    node: ast.AST,
    name: str,
    package: str,
    known: dict[str, Path],
    *,
    top_level: bool,
    type_only: bool,
) -> Iterator[Import]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import):
            for alias in child.names:
                yield Import(name, alias.name, child.lineno, top_level, type_only)
        elif isinstance(child, ast.ImportFrom):
            base = child.module or ""
            if child.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - child.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in child.names:
                candidate = f"{base}.{alias.name}"
                target = candidate if candidate in known else base
                yield Import(name, target, child.lineno, top_level, type_only)
        elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            yield from _walk(child, name, package, known, top_level=False, type_only=type_only)
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            yield from _walk(child, name, package, known, top_level=False, type_only=True)
        else:
            yield from _walk(child, name, package, known, top_level=top_level, type_only=type_only)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "tinybase"


def rank(layer_name: str) -> int:
    if layer_name in RANKS:
        return RANKS[layer_name]
    return {"api": API_RANK, "cli": CLI_RANK}.get(layer_name, SERVICE_RANK)


ALL_MODULES = modules()
ALL_IMPORTS = [
    found for name, path in ALL_MODULES.items() for found in imports_of(name, path, ALL_MODULES)
]


def violation(found: Import) -> str | None:
    source_layer = layer(found.source)
    top = found.target.split(".")[0]
    if top in WEB_FRAMEWORKS and rank(source_layer) < API_RANK:
        if found.type_only and (found.source, found.target) in TYPE_ONLY_WEB_IMPORTS:
            return None
        return f"{source_layer} must not depend on {top}"
    if top != "tinybase":
        return None
    target_layer = layer(found.target)
    if source_layer == target_layer:
        return None
    if source_layer == "data" or source_layer in BASE:
        return f"{source_layer} imports nothing else from tinybase"
    if rank(target_layer) > rank(source_layer):
        return f"{source_layer} must not import the higher layer {target_layer}"
    if source_layer == "records" and target_layer == "collections":
        return "records must not import collections (collections implement its Protocol)"
    return None


def test_modules_were_found() -> None:
    assert "tinybase.api.app" in ALL_MODULES
    assert "tinybase.settings" in ALL_MODULES
    assert any(found.target == "tinybase.data" for found in ALL_IMPORTS)


def test_no_upward_imports() -> None:
    problems = [
        f"{ALL_MODULES[found.source].relative_to(PACKAGE_ROOT.parent)}:{found.line}: "
        f"imports {found.target}: {reason}"
        for found in ALL_IMPORTS
        if (reason := violation(found)) is not None
    ]
    assert problems == []


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a path (first node repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for neighbour in sorted(graph.get(node, ())):
            if state.get(neighbour) == 1:
                return [*path[path.index(neighbour) :], neighbour]
            if neighbour not in state and (cycle := visit(neighbour)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycles_between_modules() -> None:
    """Deferred imports (inside functions) count: they hide a circle, they don't remove it.
    Imports for type checking only never run and may point back."""
    graph: dict[str, set[str]] = {}
    for found in ALL_IMPORTS:
        if not found.type_only and found.target in ALL_MODULES and found.target != found.source:
            graph.setdefault(found.source, set()).add(found.target)
    assert find_cycle(graph) is None


def test_the_walk_tells_deferred_and_type_only_imports_apart() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "import tinybase.errors\n"
        "if TYPE_CHECKING:\n"
        "    import tinybase.db\n"
        "def later():\n"
        "    import tinybase.data\n"
    )
    found = list(_walk(ast.parse(source), "m", "m", {}, top_level=True, type_only=False))
    kinds = {item.target: (item.top_level, item.type_only) for item in found}
    assert kinds["tinybase.errors"] == (True, False)
    assert kinds["tinybase.db"] == (False, True)
    assert kinds["tinybase.data"] == (False, False)


def test_no_import_cycles_between_layers() -> None:
    graph: dict[str, set[str]] = {}
    for found in ALL_IMPORTS:
        if found.target.split(".")[0] == "tinybase" and found.target in ALL_MODULES:
            source, target = layer(found.source), layer(found.target)
            if source != target:
                graph.setdefault(source, set()).add(target)
    assert find_cycle(graph) is None


@pytest.mark.parametrize(
    ("source", "target", "expected"),
    [
        ("tinybase.records.engine", "tinybase.collections.service", "records must not"),
        ("tinybase.auth.users", "tinybase.api.deps", "higher layer api"),
        ("tinybase.collections.service", "fastapi", "must not depend on fastapi"),
        ("tinybase.data.table", "tinybase.utils", "imports nothing else"),
        ("tinybase.db.models", "tinybase.settings", "higher layer settings"),
        ("tinybase.api.app", "tinybase.cli.main", "higher layer cli"),
        ("tinybase.collections.service", "tinybase.records.engine", None),
        ("tinybase.cli.serve", "tinybase.api.startup", None),
        ("tinybase.api.routes.auth", "fastapi", None),
    ],
)
def test_the_rules_themselves(source: str, target: str, expected: str | None) -> None:
    reason = violation(Import(source, target, 1, True))
    if expected is None:
        assert reason is None
    else:
        assert reason is not None and expected in reason


def test_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}}) is None
