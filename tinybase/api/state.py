"""What the app factory builds at start-up and every request handler reaches through deps."""

from __future__ import annotations

from dataclasses import dataclass

from anyio.abc import TaskGroup

from tinybase.data import Database
from tinybase.settings import Config

__all__ = ["AppState"]


@dataclass
class AppState:
    """The running instance's services, created in the lifespan, never at import time."""

    config: Config
    db: Database

    def start_background(self, task_group: TaskGroup) -> None:
        """Start the periodic tasks (revocation polling, clean-ups) in the app's task group."""

    def close(self) -> None:
        """Release connections and workers; the process is shutting down."""
        self.db.engine.dispose()
