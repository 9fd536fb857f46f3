"""Browser fixtures: one real TinyBase server and one headless Chromium per test module.

The server is uvicorn on 127.0.0.1 (a free port) over a temp SQLite file, with cheap argon2
settings passed as ``TINYBASE_*`` variables. The test process keeps its own ``AppState`` on
the same file: it issues setup tokens the way ``tinybase serve`` does and reads the tables
afterwards. Chromium is Debian's ``/usr/bin/chromium``, driven by Playwright (never a browser
that Playwright downloads). Without it the tests skip, unless ``TINYBASE_REQUIRE_BROWSER=1``
(set by ``.ci/run``), where they fail, as ``TINYBASE_REQUIRE_PG`` does for PostgreSQL.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, sync_playwright

from tests.browser.helpers import Instance, Tab
from tests.live_server import free_port, live_server
from tinybase.api.startup import build_state
from tinybase.auth.setup import ensure_setup_token, setup_url
from tinybase.db.models import PasswordReset, User, UserSession
from tinybase.settings import load_config

CHROMIUM = Path("/usr/bin/chromium")
# Playwright adds its own fresh --user-data-dir. Without the background-networking flags,
# Chromium keeps dialing Google's hosts, which this closed network refuses.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
FAST_ARGON2 = {
    "auth_password_time_cost": 1,
    "auth_password_memory_kib": 1024,
    "auth_password_parallelism": 1,
}
TIMEOUT_MS = 10_000


@pytest.fixture(scope="module", autouse=True)
def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("TINYBASE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"TINYBASE_REQUIRE_BROWSER=1 but {CHROMIUM} is not installed")
    pytest.skip(f"{CHROMIUM} is not installed (Debian package chromium)")


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    """A TinyBase server over a fresh SQLite file, migrated before it starts."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    folder = tmp_path_factory.mktemp("browser")
    db_url = f"sqlite:///{folder / 'tinybase.db'}"
    settings = {"db_url": db_url, "public_url": base_url, **FAST_ARGON2}
    state = build_state(load_config(**settings))  # migrates, as `tinybase serve` does first
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("TINYBASE_")}
    env |= {f"TINYBASE_{name.upper()}": str(value) for name, value in settings.items()}
    try:
        with live_server(env, folder / "server.log", port) as url:
            yield Instance(base_url=url, state=state)
    finally:
        state.close()


@pytest.fixture
def setup_link(instance: Instance) -> str:
    """No users at all, and a new one-time setup link, issued as ``tinybase serve`` does."""
    with instance.state.db.write() as conn:
        for model in (UserSession, PasswordReset, User):
            conn.execute(sa.delete(model.__table__))
    token = ensure_setup_token(instance.state.db, instance.state.config)
    assert token is not None
    return setup_url(instance.state.config, token)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's headless Chromium, launched once per module."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def tab(browser: Browser) -> Iterator[Tab]:
    """A page in a new browser context (no cookies or storage from other tests)."""
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield Tab.watch(context.new_page())
    finally:
        context.close()
