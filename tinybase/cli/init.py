"""``tinybase init [DIR]``: a commented ``tinybase.toml``, a ``functions/`` folder, an admin."""

from __future__ import annotations

import contextlib
from pathlib import Path

import typer

from tinybase.cli.admin import add as add_admin
from tinybase.cli.config_template import render_config_template

__all__ = ["init"]

EXAMPLE_FUNCTION_NAME = "hello.py"
EXAMPLE_FUNCTION = '''\
# /// script
# dependencies = ["tinybase-sdk"]
# ///
"""An example function: greets the caller. No network, no files, no database.

Call it as a logged-in user: POST /api/functions/hello {"name": "Ada"}.
"""

from pydantic import BaseModel
from tinybase_sdk import register
from tinybase_sdk.cli import run


class HelloInput(BaseModel):
    name: str = "world"


class HelloOutput(BaseModel):
    message: str


@register(name="hello", description="Say hello", auth="auth", tags=["examples"])
def hello(client, payload: HelloInput) -> HelloOutput:
    return HelloOutput(message=f"Hello, {payload.name}!")


if __name__ == "__main__":
    run()
'''


def init(
    directory: Path = typer.Argument(Path("."), help="Folder of the new instance."),
    admin_email: str | None = typer.Option(
        None, envvar="TINYBASE_ADMIN_EMAIL", help="Create (or promote) this admin."
    ),
    admin_password: str | None = typer.Option(
        None, envvar="TINYBASE_ADMIN_PASSWORD", help="The admin's password (8+ characters)."
    ),
) -> None:
    """Write a commented tinybase.toml and an example function; optionally create an admin.

    Existing files are left as they are, so running it again is safe.
    """
    if (admin_email is None) != (admin_password is None):
        raise typer.BadParameter(
            "give both --admin-email and --admin-password (or neither)",
            param_hint="--admin-email",
        )
    directory.mkdir(parents=True, exist_ok=True)
    _write_once(directory / "tinybase.toml", render_config_template())
    (directory / "functions").mkdir(exist_ok=True)
    _write_once(directory / "functions" / EXAMPLE_FUNCTION_NAME, EXAMPLE_FUNCTION)
    if admin_email is not None and admin_password is not None:
        # Relative paths in the configuration (the SQLite file) are relative to the
        # instance's folder, where `tinybase serve` will run.
        with contextlib.chdir(directory):
            add_admin(admin_email, admin_password)
    typer.echo(f"Next: cd {directory} && tinybase serve")


def _write_once(path: Path, text: str) -> None:
    if path.exists():
        typer.echo(f"kept {path} (already exists)")
        return
    path.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {path}")
