"""What the browser tests share besides fixtures: the running instance and a watched tab.

Plain code, not fixtures (pytest discourages importing from conftest modules).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from playwright.sync_api import Page, Request

from tinybase.api.state import AppState
from tinybase.db.models import User

__all__ = ["Instance", "Tab"]


@dataclass(frozen=True)
class Instance:
    """The running server (``base_url``) and the test process's state on its database."""

    base_url: str
    state: AppState

    def users(self) -> dict[str, bool]:
        """Every user's email, mapped to whether they are an admin."""
        with self.state.db.read() as conn:
            rows = conn.execute(sa.select(User.__table__.c.email, User.__table__.c.is_admin))
            return {row.email: row.is_admin for row in rows}


@dataclass
class Tab:
    """A fresh page, with what it did behind the user's back."""

    page: Page
    js_errors: list[str] = field(default_factory=list)
    api_requests: list[str] = field(default_factory=list)

    @classmethod
    def watch(cls, page: Page) -> Tab:
        """Start recording the page's uncaught JavaScript errors and its API requests."""
        tab = cls(page)
        page.on("pageerror", lambda error: tab.js_errors.append(str(error)))
        page.on("request", tab._record)
        return tab

    def _record(self, request: Request) -> None:
        if "/api/" in request.url:
            self.api_requests.append(f"{request.method} {request.url.split('/api/', 1)[1]}")
