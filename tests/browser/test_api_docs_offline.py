"""``/docs`` (Swagger UI) and ``/redoc`` render with nothing reachable but the server itself.

Every request the page makes to another host is aborted (and recorded), as on a machine
without internet: the pages must load their scripts, styles and icons from TinyBase.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser.helpers import Instance, Tab

pytestmark = pytest.mark.browser


def console_errors(page: Page) -> list[str]:
    """The page's console errors (a refused resource or a failed script shows there)."""
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    return errors


def offline(page: Page) -> list[str]:
    """Abort every request not to 127.0.0.1; the list fills with the aborted URLs."""
    blocked: list[str] = []

    def handle(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname == "127.0.0.1":
            route.continue_()
        else:
            blocked.append(url)
            route.abort("internetdisconnected")

    page.route("**/*", handle)
    return blocked


def operations(instance: Instance) -> list[tuple[str, str]]:
    """Every documented (method, path), as /openapi.json lists them."""
    paths = httpx.get(f"{instance.base_url}/openapi.json").json()["paths"]
    return [(method, path) for path, methods in paths.items() for method in methods]


def test_swagger_ui_lists_every_operation_offline(tab: Tab, instance: Instance) -> None:
    blocked = offline(tab.page)
    errors = console_errors(tab.page)
    tab.page.goto(f"{instance.base_url}/docs")
    documented = operations(instance)
    expect(tab.page.locator(".opblock")).to_have_count(len(documented))
    for method, path in documented:
        block = tab.page.locator(f".opblock-{method}").filter(
            has=tab.page.locator(f'[data-path="{path}"]')
        )
        expect(block).to_have_count(1)
    assert blocked == []
    assert tab.js_errors == []
    assert errors == []


def test_redoc_lists_every_operation_offline(tab: Tab, instance: Instance) -> None:
    blocked = offline(tab.page)
    errors = console_errors(tab.page)
    tab.page.goto(f"{instance.base_url}/redoc")
    documented = operations(instance)
    expect(tab.page.locator("[data-section-id*='/operation/']")).to_have_count(len(documented))
    expect(tab.page.get_by_text("/api/records/v1/{api}/schema").first).to_be_attached()
    assert blocked == []
    assert tab.js_errors == []
    # ReDoc's sidebar always asks for its logo from its CDN: the page's policy refuses it
    # before any request is made (and ReDoc then leaves the image out).
    assert errors == [
        "Loading the image 'https://cdn.redoc.ly/redoc/logo-mini.svg' violates the following "
        "Content Security Policy directive: \"img-src 'self' data:\". The action has been blocked."
    ]
