"""The ``tinybase`` command: ``init``, ``serve``, ``db``, ``admin``, ``extensions``,
``functions``, ``schedules``, ``version``."""

from __future__ import annotations

import typer

from tinybase import __version__
from tinybase.cli import admin, db, extensions, functions, schedules
from tinybase.cli.init import init
from tinybase.cli.serve import serve

__all__ = ["app"]

app = typer.Typer(
    name="tinybase",
    help="TinyBase: a self-hosted Backend-as-a-Service for Python developers.",
    no_args_is_help=True,
    add_completion=False,
)
app.command()(init)
app.command()(serve)
app.add_typer(db.app, name="db")
app.add_typer(admin.app, name="admin")
app.add_typer(schedules.app, name="schedules")
app.add_typer(extensions.app, name="extensions")
app.add_typer(functions.app, name="functions")


@app.command()
def version() -> None:
    """Print TinyBase's version."""
    typer.echo(f"tinybase {__version__}")
