"""``tinybase admin add EMAIL PASSWORD``: create an admin, or promote an existing user."""

from __future__ import annotations

import anyio
import typer

from tinybase.api.startup import build_state
from tinybase.cli.common import read_config
from tinybase.errors import TinyBaseError

__all__ = ["app"]

app = typer.Typer(help="Manage admins.", no_args_is_help=True)


@app.callback()
def admin() -> None:
    """Manage admins (the first one can also come from the setup URL of ``tinybase serve``)."""


@app.command()
def add(
    email: str = typer.Argument(..., help="The admin's email address."),
    password: str = typer.Argument(..., help="The admin's password (8+ characters)."),
) -> None:
    """Create an admin, or promote an existing user (who gets this password).

    Migrates the database first, like ``tinybase serve``.
    """
    state = build_state(read_config())
    try:
        user, created = state.users.promote_or_create_admin(email=email, password=password)
    except TinyBaseError as exc:
        typer.echo(f"Error: {_message(exc.detail)}", err=True)
        raise typer.Exit(code=1) from exc
    finally:
        # No server runs the hooks here: the extensions' on_user_register runs now.
        anyio.run(state.hooks.close)
        state.close()
    typer.echo(f"{'created' if created else 'promoted'} admin {user.email}")


def _message(detail: object) -> str:
    if isinstance(detail, list):
        return "; ".join(f"{error['loc'][-1]}: {error['msg']}" for error in detail)
    return str(detail)
