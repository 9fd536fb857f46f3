"""``tinybase extensions list``: the extensions this configuration loads, and what failed."""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from tinybase.cli.common import read_config
from tinybase.extensions.hooks import collected_hooks
from tinybase.extensions.loader import load_extensions
from tinybase.functions.registry import collected_functions

__all__ = ["app"]

app = typer.Typer(help="Inspect extensions.", no_args_is_help=True)


@app.callback()
def extensions() -> None:
    """Inspect the extensions of ``extensions_path`` and of installed distributions."""


@app.command("list")
def list_extensions() -> None:
    """Import the extensions as ``tinybase serve`` would; show what each one registered
    (hooks, functions) and what failed to load, with the file and the error."""
    config = read_config()
    loaded = load_extensions(config.extensions_path, enabled=config.extensions_enabled)
    report = loaded.describe(collected_hooks(), collected_functions())
    console = Console(width=200, soft_wrap=True)
    if not report["enabled"]:
        console.print("Extensions are disabled (extensions_enabled = false).")
        return
    console.print(_loaded_table(report["loaded"]))
    if report["failed"]:
        console.print(_failed_table(report["failed"]))


def _loaded_table(loaded: list[dict[str, Any]]) -> Table:
    table = Table(title=f"Loaded extensions ({len(loaded)})", title_justify="left")
    for column in ("Name", "Version", "Source", "Location", "Hooks", "Functions"):
        table.add_column(column)
    for extension in loaded:
        hooks = "\n".join(
            f"{hook['kind']}"
            + (f"({hook['target']})" if hook["target"] else "")
            + f" {hook['handler']}"
            for hook in extension["hooks"]
        )
        table.add_row(
            extension["name"],
            extension["version"] or "",
            extension["source"],
            extension["location"],
            hooks or "-",
            "\n".join(extension["functions"]) or "-",
        )
    return table


def _failed_table(failed: list[dict[str, Any]]) -> Table:
    table = Table(title=f"Failed to load ({len(failed)})", title_justify="left")
    for column in ("Name", "Source", "File", "Error"):
        table.add_column(column)
    for failure in failed:
        place = failure["file"] or failure["location"]
        if failure["line"]:
            place = f"{place}:{failure['line']}"
        table.add_row(failure["name"], failure["source"], place, failure["error"])
    return table
