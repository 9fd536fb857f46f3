"""Start-up: open the database, migrate it, and build every service the app needs."""

from __future__ import annotations

from tinybase.api.state import AppState
from tinybase.data import database
from tinybase.settings import Config

__all__ = ["build_state"]


def build_state(config: Config) -> AppState:
    """Build the running instance's state; called once per process from the lifespan."""
    db = database(config.db_url)
    return AppState(config=config, db=db)
