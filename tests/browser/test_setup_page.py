"""The first-admin setup page (``/admin/setup?token=...``) in a real browser.

Each test opens the link ``tinybase serve`` prints, types into the form as a person would,
and checks both what the page shows and what the server holds afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import Locator, Page, Route, expect

from tests.browser.helpers import Instance, Tab
from tinybase.auth.instance_secrets import read_secret
from tinybase.auth.setup import SETUP_TOKEN_SECRET

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
SHOWN_AS_ERROR = re.compile(r"\berror\b")


def fill_and_submit(page: Page, email: str, password: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Create admin").click()


def result(page: Page) -> Locator:
    return page.get_by_role("status")


def stored_setup_token(instance: Instance) -> str | None:
    with instance.state.db.read() as conn:
        return read_secret(conn, SETUP_TOKEN_SECRET)


def log_in(instance: Instance, email: str, password: str = PASSWORD) -> httpx.Response:
    return httpx.post(
        f"{instance.base_url}/api/auth/login", json={"email": email, "password": password}
    )


def test_setup_link_creates_an_admin_who_can_log_in(
    tab: Tab, instance: Instance, setup_link: str
) -> None:
    page = tab.page
    page.goto(setup_link)
    expect(page.get_by_role("heading")).to_have_text("Create the first admin")
    expect(result(page)).to_have_text("")

    fill_and_submit(page, "Owner@Example.com", PASSWORD)

    expect(result(page)).to_have_text(
        "Admin owner@example.com created. Log in through /api/auth/login."
    )
    expect(result(page)).not_to_have_class(SHOWN_AS_ERROR)
    expect(page.locator("form")).to_have_count(0)  # nothing left to submit twice
    assert tab.api_requests == ["POST admin/setup"]
    assert tab.js_errors == []
    assert instance.users() == {"owner@example.com": True}
    assert stored_setup_token(instance) is None  # the link is spent

    login = log_in(instance, "owner@example.com")
    assert login.status_code == 200, login.text
    assert login.json()["user"]["is_admin"] is True
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    listing = httpx.get(f"{instance.base_url}/api/admin/users", headers=headers)
    assert listing.status_code == 200
    assert [(u["email"], u["is_admin"]) for u in listing.json()["users"]] == [
        ("owner@example.com", True)
    ]


def test_the_same_link_again_shows_an_error_and_creates_no_second_admin(
    tab: Tab, instance: Instance, setup_link: str
) -> None:
    page = tab.page
    page.goto(setup_link)
    fill_and_submit(page, "owner@example.com", PASSWORD)
    expect(result(page)).to_contain_text("Admin owner@example.com created.")

    page.goto(setup_link)
    fill_and_submit(page, "second@example.com", "another password 1")

    expect(result(page)).to_have_text("Not created: An admin already exists")
    expect(result(page)).to_have_class(SHOWN_AS_ERROR)
    expect(page.get_by_role("button", name="Create admin")).to_be_enabled()
    assert tab.api_requests == ["POST admin/setup", "POST admin/setup"]
    assert tab.js_errors == []
    assert instance.users() == {"owner@example.com": True}
    assert log_in(instance, "second@example.com", "another password 1").status_code == 401


@pytest.mark.parametrize("query", ["?token=wrong", "?token=", ""])
def test_a_wrong_or_missing_token_shows_an_error_and_creates_nobody(
    tab: Tab, instance: Instance, setup_link: str, query: str
) -> None:
    page = tab.page
    page.goto(setup_link.split("?")[0] + query)
    fill_and_submit(page, "owner@example.com", PASSWORD)

    expect(result(page)).to_have_text("Not created: Invalid or expired setup token")
    expect(result(page)).to_have_class(SHOWN_AS_ERROR)
    expect(page.get_by_role("button", name="Create admin")).to_be_enabled()
    assert tab.api_requests == ["POST admin/setup"]
    assert tab.js_errors == []
    assert instance.users() == {}
    assert stored_setup_token(instance) is not None  # the real link still works


def test_a_server_side_rejection_is_shown_as_a_readable_message(
    tab: Tab, instance: Instance, setup_link: str
) -> None:
    """``owner@localhost`` passes the browser's email check; the server refuses it (422)."""
    page = tab.page
    page.goto(setup_link)
    fill_and_submit(page, "owner@localhost", PASSWORD)

    expect(result(page)).to_have_text(
        "Not created: The part after the @-sign is not valid. It should have a period."
    )
    expect(result(page)).to_have_class(SHOWN_AS_ERROR)
    assert tab.api_requests == ["POST admin/setup"]
    assert tab.js_errors == []
    assert instance.users() == {}


def _answer_502(route: Route) -> None:
    route.fulfill(status=502, content_type="text/html", body="<h1>Bad Gateway</h1>")


@pytest.mark.parametrize(
    ("break_it", "message"),
    [
        (lambda route: route.abort(), "Not created: the server could not be reached."),
        (_answer_502, "Not created: the server answered HTTP 502"),
    ],
    ids=["unreachable", "proxy-error-page"],
)
def test_a_failed_request_is_reported_and_the_form_can_be_sent_again(
    tab: Tab, instance: Instance, setup_link: str, break_it: Callable[[Route], None], message: str
) -> None:
    """A network failure or a proxy's HTML error page is reported, not silently dropped."""
    page = tab.page
    page.goto(setup_link)
    page.route("**/api/admin/setup", break_it)
    fill_and_submit(page, "owner@example.com", PASSWORD)

    expect(result(page)).to_have_text(message)
    expect(result(page)).to_have_class(SHOWN_AS_ERROR)
    assert tab.js_errors == []
    assert instance.users() == {}

    page.unroute("**/api/admin/setup")  # the server is back: the same form now works
    page.get_by_role("button", name="Create admin").click()
    expect(result(page)).to_have_text(
        "Admin owner@example.com created. Log in through /api/auth/login."
    )
    assert instance.users() == {"owner@example.com": True}


def test_a_double_click_sends_one_request_and_reports_success(
    tab: Tab, instance: Instance, setup_link: str
) -> None:
    """A second submission while the first is in flight would come back 409 and replace the
    success message with an error, although the admin was created."""
    page = tab.page
    page.goto(setup_link)
    page.get_by_label("Email").fill("owner@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create admin").dblclick()

    expect(result(page)).to_have_text(
        "Admin owner@example.com created. Log in through /api/auth/login."
    )
    assert tab.api_requests == ["POST admin/setup"]
    assert instance.users() == {"owner@example.com": True}


@pytest.mark.parametrize(
    ("email", "password", "invalid_field", "reason"),
    [
        ("", "", "email", "valueMissing"),
        ("owner@example.com", "", "password", "valueMissing"),
        ("not an email", PASSWORD, "email", "typeMismatch"),
        ("owner@example.com", "short", "password", "tooShort"),
    ],
)
def test_the_browser_stops_an_incomplete_form_before_any_request(
    tab: Tab,
    instance: Instance,
    setup_link: str,
    email: str,
    password: str,
    invalid_field: str,
    reason: str,
) -> None:
    page = tab.page
    page.goto(setup_link)
    fill_and_submit(page, email, password)

    field = page.locator(f"input[name={invalid_field}]")
    expect(field).to_be_focused()  # the browser points the user at the field to fix
    assert field.evaluate(f"input => input.validity.{reason}") is True
    assert field.evaluate("input => input.validationMessage") != ""
    expect(result(page)).to_have_text("")
    assert tab.api_requests == []
    assert tab.js_errors == []
    assert instance.users() == {}


def test_the_page_sends_the_token_only_to_the_api(tab: Tab, setup_link: str) -> None:
    """The token is in the URL: the page must not leak it to other origins via Referer."""
    page = tab.page
    response = page.goto(setup_link)
    assert response is not None and response.status == 200
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    token = setup_link.split("token=")[1]
    assert token not in page.content()
    with page.expect_request("**/api/admin/setup") as request_info:
        fill_and_submit(page, "owner@example.com", PASSWORD)
    posted = request_info.value
    assert posted.post_data_json == {
        "token": token,
        "email": "owner@example.com",
        "password": PASSWORD,
    }
    assert "referer" not in posted.all_headers()  # the headers actually sent
