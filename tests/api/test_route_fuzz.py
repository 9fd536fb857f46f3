"""Every route of ``/openapi.json`` against hostile bodies: none of them may answer 500.

For each documented route and method (path parameters filled with values that exist, so
the request gets as far as it can), anonymously and with an admin's token, the body is in
turn: nested 5000 levels deep, a plausible object whose values are nested 1000 levels deep,
larger than the body limit, holding lone UTF-16 surrogates (in values, then in keys),
invalid UTF-8, and no JSON at all. Every answer must be a 4xx (or a success, for routes that
ignore bodies) in ``{"detail": ...}`` form when it is an error; the huge body must be the 413.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import V1, make_collection
from tinybase.api.app import create_app
from tinybase.settings import Config, load_config

# The keys record, auth and admin bodies use: a hostile value under each reaches each parser.
KEYS = [
    "data",
    "t",
    "j",
    "email",
    "password",
    "new_password",
    "current_password",
    "refresh_token",
    "token",
    "name",
    "label",
    "schema",
    "options",
    "operations",
    "table_name",
    "is_admin",
]


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _object(value: str) -> bytes:
    """A JSON object with ``value`` (JSON text) under every key, and as record ``data``."""
    fields = ", ".join(f'"{key}": {value}' for key in KEYS if key != "data")
    return ("{" + fields + ', "data": {"t": ' + value + ', "j": ' + value + "}}").encode()


def _bodies(limit: int) -> dict[str, bytes]:
    surrogate_keys = '{"\\ud800": 1, "data": {"\\udfff": 1}, "email": {"\\udbff": 1}}'
    return {
        "deep": _nested(5000),
        "deep values": _object(_nested(1000).decode()),
        "huge": b'{"data": {"t": "' + b"x" * limit + b'"}}',
        "surrogate values": _object('"a\\ud800b"'),
        "surrogate keys": surrogate_keys.encode(),
        "invalid utf-8": _object('"\xff\xfe"').replace(b"\xc3\xbf\xc3\xbe", b"\xff\xfe"),
        "not json": b"{not json",
    }


def _operations() -> list[tuple[str, str]]:
    """Every documented operation but the event streams (they ignore bodies and answer
    with a stream that never ends: tests/realtime covers their bad input)."""
    spec = create_app(load_config(db_url="sqlite:///:memory:")).openapi()
    return [
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if "text/event-stream" not in operation["responses"].get("200", {}).get("content", {})
    ]


@pytest.fixture
def client(app_config: Config) -> Iterator[TestClient]:
    """The app with server errors answered as 500 (not raised), so every case is checked."""
    with TestClient(create_app(app_config), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def targets(client, admin, make_user) -> dict[str, Any]:
    access = {key: "public" for key in ("list", "read", "create", "update", "delete")}
    fields = [{"name": "t", "type": "string"}, {"name": "j", "type": "json"}]
    make_collection(client, admin, "docs", fields, access)
    response = client.post(
        "/api/admin/record-apis",
        json={"name": "docs_admin", "table_name": "docs", "acl_world": ["CREATE", "READ"]},
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    (record,) = client.post(f"{V1}/docs", json={"t": "x"}).json()["ids"]
    user = make_user()
    return {
        "api": "docs",
        "record_id": record,
        "user_id": user.id,
        "collection": "docs",
        "record_api": "docs_admin",
        "admin": admin,
    }


def _url(path: str, targets: dict[str, Any]) -> str:
    name = targets["record_api"] if path.startswith("/api/admin/record-apis") else "docs"
    return path.format(
        api=targets["api"],
        record_id=targets["record_id"],
        user_id=targets["user_id"],
        name=name,
        column="t",  # file downloads: a column that is not a file column
        field="t",
        filename="x.txt",
        schedule_id=targets["record_id"],  # no such schedule: the body is parsed first
        call_id=targets["record_id"],  # no such function call
    )


@pytest.mark.parametrize(("method", "path"), _operations())
def test_no_route_answers_500_to_hostile_bodies(client, targets, app_config, method, path):
    url = _url(path, targets)
    failures = []
    for token in (None, targets["admin"].access_token):
        for case, body in _bodies(app_config.server_max_body_size).items():
            headers = {"Content-Type": "application/json"}
            if token:
                headers["Authorization"] = f"Bearer {token}"
            response = client.request(method, url, content=body, headers=headers)
            who = "admin" if token else "anonymous"
            if response.status_code >= 500:
                failures.append(f"{who} {case}: {response.status_code} {response.text[:200]}")
            elif case == "huge" and response.status_code != 413:
                failures.append(f"{who} huge: {response.status_code}, not 413")
            elif response.status_code >= 400:
                detail = orjson.loads(response.content)
                if set(detail) != {"detail"}:
                    failures.append(f"{who} {case}: body {response.text[:200]}")
    assert not failures, "\n".join(failures)
