"""docs/extensions.md: its complete example, manifest and module as written, loaded from an
extension folder by a real app on both dialects and driven over HTTP."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import CORE, FAST_TEST_CONFIG, PASSWORD, login, make_collection
from tinybase.api.app import create_app
from tinybase.settings import load_config

DOC = (Path(__file__).resolve().parents[2] / "docs" / "extensions.md").read_text()
MANIFEST = re.search(r"```toml\n(.*?)```", DOC, re.S).group(1)
MODULE = re.search(r"```python\n(.*?)```", DOC, re.S).group(1)
FIELDS = [
    {"name": "quantity", "type": "integer"},
    {"name": "total", "type": "number"},
    {"name": "status", "type": "string", "default": "new"},
]
ACCESS = {op: "owner" for op in ("list", "read", "update", "delete")} | {"create": "auth"}


@pytest.fixture
def client(extension_dir, db_url: str, capfd: pytest.CaptureFixture[str]) -> Iterator[TestClient]:
    """The app (capfd first: the on_startup hook prints while the app starts)."""
    root = extension_dir("orders_audit", {"orders_audit.py": MODULE}, manifest=MANIFEST)
    config = load_config(db_url=db_url, extensions_path=str(root), **FAST_TEST_CONFIG)
    with TestClient(create_app(config)) as test_client:
        yield test_client


def _printed(capfd: pytest.CaptureFixture[str], text: str) -> str:
    deadline, seen = time.monotonic() + 10, ""
    while time.monotonic() < deadline:
        seen += capfd.readouterr().out
        if text in seen:
            return seen
        time.sleep(0.02)
    pytest.fail(f"{text!r} not printed; got {seen!r}")


def test_the_docs_example_runs_as_written(client, capfd: pytest.CaptureFixture[str]) -> None:
    _printed(capfd, "orders_audit ready")
    state = client.app.state.tinybase
    assert [e.name for e in state.extensions.loaded] == ["orders_audit"]
    state.users.create_user(email="admin@example.com", password=PASSWORD, is_admin=True)
    admin = login(client, "admin@example.com")
    make_collection(client, admin, "orders", FIELDS, ACCESS)
    registered = client.post(
        "/api/auth/register", json={"email": "buyer@example.com", "password": PASSWORD}
    )
    assert registered.status_code == 201
    _printed(capfd, "welcome buyer@example.com")
    user = login(client, "buyer@example.com")

    created = client.post(
        f"{CORE}/orders/records", json={"data": {"quantity": 3}}, headers=user.headers
    )
    assert created.status_code == 201, created.text
    order = created.json()
    assert order["data"] == {"quantity": 3, "total": 7.5, "status": "new"}
    _printed(capfd, f"order {order['id']} by {uuid.UUID(user.id)}: 7.5")

    huge = client.post(
        f"{CORE}/orders/records", json={"data": {"quantity": 500}}, headers=user.headers
    )
    assert (huge.status_code, huge.json()) == (422, {"detail": "at most 100 items per order"})

    url = f"{CORE}/orders/records/{order['id']}"
    changed = client.patch(url, json={"data": {"quantity": 4}}, headers=user.headers)
    assert changed.json()["data"]["total"] == 10.0
    _printed(capfd, f"order {order['id']}: new -> new")
    shipped = client.patch(url, json={"data": {"status": "shipped"}}, headers=admin.headers)
    assert shipped.status_code == 200
    _printed(capfd, f"order {order['id']}: new -> shipped")
    frozen = client.patch(url, json={"data": {"quantity": 1}}, headers=user.headers)
    assert (frozen.status_code, frozen.json()) == (
        409,
        {"detail": "a shipped order cannot change"},
    )
    listed = client.get(f"{CORE}/orders/records", headers=admin.headers).json()
    assert [r["data"]["quantity"] for r in listed["records"]] == [4]
