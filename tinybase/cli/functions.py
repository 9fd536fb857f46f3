"""``tinybase functions``: ``sync``, ``new``, ``list`` and ``call``.

``sync``, ``list`` and ``call`` start the configured instance inside the command (its
database, its functions folder and deployed versions, the API loopback its isolated
functions call back through), wait until every script is prepared, act, and stop it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from tinybase.api.app import create_app
from tinybase.api.state import AppState
from tinybase.auth.principal import SYSTEM
from tinybase.cli.common import read_config
from tinybase.errors import TinyBaseError
from tinybase.functions.runner import FunctionCallFailed

__all__ = ["app"]

app = typer.Typer(help="Functions: prepare, create, list and call them.", no_args_is_help=True)
console = Console()

TEMPLATE = '''\
# /// script
# requires-python = ">=3.11"
# dependencies = ["tinybase-sdk"]
# ///
"""{name}: a TinyBase function (docs/functions.md)."""

from pydantic import BaseModel

from tinybase_sdk import register
from tinybase_sdk.cli import run


class {model}Input(BaseModel):
    name: str = "world"


class {model}Output(BaseModel):
    message: str


@register(name="{name}", description="Say hello", auth="auth", tags=[])
def {name}(client, payload: {model}Input) -> {model}Output:
    # client.get/post/patch/put/delete("/api/...") reach TinyBase as the caller.
    return {model}Output(message=f"Hello, {{payload.name}}!")


if __name__ == "__main__":
    run()
'''


@asynccontextmanager
async def _instance() -> AsyncIterator[AppState]:
    """The configured instance, started in this process until the block ends."""
    server = create_app(read_config())
    async with server.router.lifespan_context(server):
        yield server.state.tinybase


async def _settle(state: AppState, progress: Progress | None = None) -> None:
    assert state.functions is not None
    isolated = state.functions.isolated
    await isolated.synced.wait()
    task = None if progress is None else progress.add_task("preparing", total=None)
    while True:
        entries = list(isolated.entries.values())
        waiting = [e for e in entries if e.state == "preparing"]
        if progress is not None and task is not None:
            done = len(entries) - len(waiting)
            names = ", ".join(e.name for e in waiting[:3])
            progress.update(task, total=len(entries), completed=done, description=names or "done")
        if not waiting:
            return
        await asyncio.sleep(0.1)


def _scripts_table(state: AppState) -> Table:
    assert state.functions is not None
    table = Table("script", "function", "state", "seconds", "error")
    for entry in state.functions.isolated.listing():
        table.add_row(
            Path(entry["file"]).name,
            entry["name"],
            entry["state"],
            "" if entry["prepared_seconds"] is None else f"{entry['prepared_seconds']:.2f}",
            (entry["error"] or "").splitlines()[-1:][0] if entry["error"] else "",
        )
    return table


@app.command()
def sync() -> None:
    """Prepare the environment of every SDK script (uv), with progress and a summary."""

    async def main() -> int:
        started = time.perf_counter()
        columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn())
        async with _instance() as state:
            with Progress(*columns, TimeElapsedColumn(), console=console) as progress:
                await _settle(state, progress)
            console.print(_scripts_table(state))
            assert state.functions is not None
            entries = state.functions.isolated.listing()
            failed = sum(entry["state"] == "failed" for entry in entries)
            seconds = time.perf_counter() - started
            console.print(f"{len(entries) - failed} ready, {failed} failed in {seconds:.1f} s")
            return 1 if failed else 0

    raise typer.Exit(asyncio.run(main()))


@app.command("list")
def list_functions() -> None:
    """Every function: kind, auth, state and errors."""

    async def main() -> None:
        async with _instance() as state:
            await _settle(state)
            assert state.functions is not None
            table = Table("function", "kind", "auth", "description", "where")
            for spec in sorted(state.functions.registry, key=lambda spec: spec.name):
                table.add_row(
                    spec.name, spec.kind, spec.auth.value, spec.description or "", spec.place
                )
            console.print(table)
            console.print(_scripts_table(state))
            for failure in state.functions.load.failures:
                console.print(f"[red]failed[/red] {failure.file}: {failure.error}")

    asyncio.run(main())


@app.command()
def new(
    name: str = typer.Argument(..., help="The function's name (a Python identifier)."),
) -> None:
    """Write a runnable SDK script NAME.py into functions_path."""
    if not name.isidentifier():
        raise typer.BadParameter("the name must be a Python identifier", param_hint="NAME")
    folder = Path(read_config().functions_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    if path.exists():
        typer.echo(f"Error: {path} already exists", err=True)
        raise typer.Exit(1)
    model = "".join(part.capitalize() for part in name.split("_"))
    path.write_text(TEMPLATE.format(name=name, model=model), encoding="utf-8")
    typer.echo(f"wrote {path}")


@app.command()
def call(
    name: str = typer.Argument(..., help="The function to call."),
    data: str = typer.Option("{}", "--data", "-d", help="The JSON payload."),
) -> None:
    """Call a function against the local instance (as TinyBase itself: admin rights)."""
    try:
        payload = json.loads(data)
    except ValueError as exc:
        raise typer.BadParameter(f"not JSON: {exc}", param_hint="--data") from exc

    async def main() -> tuple[int, Any]:
        async with _instance() as state:
            await _settle(state)
            assert state.functions is not None
            functions = state.functions
            try:
                spec = functions.registry.get(name)
                return 0, await functions.runner.call(spec, payload, principal=SYSTEM)
            except FunctionCallFailed as exc:
                return 1, exc.public() | {"call_id": str(exc.call_id)}
            except TinyBaseError as exc:
                return 1, {"detail": exc.detail}

    status, answer = asyncio.run(main())
    typer.echo(json.dumps(answer, indent=2, default=str))
    raise typer.Exit(status)
