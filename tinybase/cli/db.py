"""``tinybase db upgrade|current|history``: the system-table migrations."""

from __future__ import annotations

import typer

from tinybase.cli.common import open_database
from tinybase.db import migrate

app = typer.Typer(help="Migrate the system tables.", no_args_is_help=True)


@app.command()
def upgrade(
    revision: str = typer.Argument("head", help="Target revision (default: the latest)."),
) -> None:
    """Bring the system tables up to date (``tinybase serve`` also does this at start-up)."""
    db = open_database()
    try:
        migrate.upgrade(db, revision)
        typer.echo(f"database at revision {migrate.current(db)}")
    finally:
        db.engine.dispose()


@app.command()
def current() -> None:
    """Show the revision the database is at."""
    db = open_database()
    try:
        revision = migrate.current(db)
    finally:
        db.engine.dispose()
    head = migrate.head()
    if revision is None:
        typer.echo(f"not migrated yet (latest: {head})")
    elif revision == head:
        typer.echo(f"{revision} (head)")
    else:
        typer.echo(f"{revision} (latest: {head}; run `tinybase db upgrade`)")


@app.command()
def history() -> None:
    """List the migrations shipped with this version, oldest first."""
    for migration in migrate.history():
        typer.echo(
            f"{migration.down_revision or '<base>'} -> {migration.revision}: "
            f"{migration.message.splitlines()[0] if migration.message else ''}"
        )
