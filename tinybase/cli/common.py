"""What several commands share: reading the configuration and opening the database."""

from __future__ import annotations

import typer

from tinybase.data import Database, database
from tinybase.settings import Config, ConfigError, load_config

__all__ = ["error_text", "open_database", "read_config"]


def read_config() -> Config:
    """The configuration (environment > tinybase.toml > defaults), or exit with its error."""
    try:
        return load_config()
    except ConfigError as exc:
        typer.echo(f"Error: invalid configuration: {exc}", err=True)
        raise typer.Exit(code=2) from exc


def open_database(config: Config | None = None) -> Database:
    """The configured database (the caller disposes of its engine)."""
    return database((config or read_config()).db_url)


def error_text(detail: object) -> str:
    """A TinyBase error's ``detail`` on one line (field errors as ``field.path: message``)."""
    if isinstance(detail, list):
        return "; ".join(
            f"{'.'.join(str(part) for part in error['loc'][1:])}: {error['msg']}"
            for error in detail
        )
    return str(detail)
