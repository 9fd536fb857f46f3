"""Hostile JSON bodies on the record APIs: deep, invalid Unicode, not quite JSON, too large.

Every case is sent anonymously (the APIs are open to the world, so the body is what is
tested) on both families, bulk creates and transactions, on both dialects; each asserts the
exact answer and that nothing was stored.

``docs`` is a collection (its schema validates); ``notes`` is an admin-defined API over a
plain table with a JSON column (no collection validator: only the engine checks values).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import orjson
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.dialects import postgresql
from starlette.types import Message, Receive, Scope, Send

from tests.api.helpers import CORE, V1, create_tables, define, make_collection, table_rows
from tinybase.api.app import create_app
from tinybase.api.middleware import BodySizeLimitMiddleware
from tinybase.records.values import MAX_JSON_DEPTH

TX = "/api/transaction/v1/execute"
JSON = {"Content-Type": "application/json"}
ACCESS = {"list": "public", "read": "public", "create": "public", "update": "public"}
SURROGATE = "Input should be a valid string, unable to parse raw data as a unicode string"


@pytest.fixture
def world(client, admin):
    make_collection(
        client,
        admin,
        "docs",
        [{"name": "t", "type": "string"}, {"name": "j", "type": "json"}],
        ACCESS,
    )
    metadata = sa.MetaData()
    sa.Table(
        "notes",
        metadata,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("title", sa.Text, nullable=True),
        sa.Column("doc", sa.JSON().with_variant(postgresql.JSONB(), "postgresql")),
    )
    create_tables(client, metadata)
    define(
        client,
        admin,
        name="notes",
        table_name="notes",
        acl_world=["CREATE", "READ", "UPDATE"],
    )
    (doc,) = client.post(f"{V1}/docs", json={"t": "first"}).json()["ids"]
    (note,) = client.post(f"{V1}/notes", json={"title": "first"}).json()["ids"]
    return {
        "doc": doc,
        "note": note,
        "before": {table: table_rows(client, table) for table in ("docs", "notes")},
    }


def _unchanged(client, world) -> None:
    assert {table: table_rows(client, table) for table in ("docs", "notes")} == world["before"]


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _send(client, world, family: str, field: str, value_json: str):
    """Write ``{field: value}`` (``value_json``: JSON text) through one route family."""
    doc, note = world["doc"], world["note"]
    routes = {
        "v1 create": ("POST", f"{V1}/docs", "{%s}"),
        "v1 update": ("PATCH", f"{V1}/docs/{doc}", "{%s}"),
        "v1 bulk": ("POST", f"{V1}/docs", '[{"t": "ok"}, {%s}]'),
        "plain create": ("POST", f"{V1}/notes", "{%s}"),
        "plain update": ("PATCH", f"{V1}/notes/{note}", "{%s}"),
        "core create": ("POST", f"{CORE}/docs/records", '{"data": {%s}}'),
        "core update": ("PATCH", f"{CORE}/docs/records/{doc}", '{"data": {%s}}'),
        "transaction": (
            "POST",
            TX,
            '{"operations": [{"Create": {"api_name": "docs", "value": {%s}}}]}',
        ),
    }
    method, url, template = routes[family]
    body = template % f'"{field}": {value_json}'
    return client.request(method, url, content=body.encode(), headers=JSON)


# Where each family reports a field of the body (the collection validator says "data").
LOCS = {
    "v1 create": ["body", "data"],
    "v1 update": ["body", "data"],
    "v1 bulk": ["body", "data"],
    "plain create": ["body"],
    "plain update": ["body"],
    "core create": ["body", "data"],
    "core update": ["body", "data"],
    "transaction": ["body", "data"],
}
# Where the body parser reports a place in the body (the path from its root).
PATHS = {
    "v1 create": ["body"],
    "v1 update": ["body"],
    "v1 bulk": ["body", 1],
    "plain create": ["body"],
    "plain update": ["body"],
    "core create": ["body", "data"],
    "core update": ["body", "data"],
    "transaction": ["body", "operations", 0, "Create", "value"],
}
DOCS_FAMILIES = [family for family in LOCS if not family.startswith("plain")]
# A successful write: /api/collections creates answer 201, everything else 200.
WRITTEN = {family: 201 if family == "core create" else 200 for family in LOCS}


def _json_field(family: str) -> str:
    return "doc" if family.startswith("plain") else "j"


def _text_field(family: str) -> str:
    return "title" if family.startswith("plain") else "t"


# -- 1: deeply nested bodies --------------------------------------------------------------

DEEP_BODY = _nested(5000).encode()  # 10 kB, past orjson's 1024 levels and Python's stack


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/docs"), ("PATCH", "/docs/{doc}"), ("POST", "/notes"), ("PATCH", "/notes/{note}")],
)
def test_deep_bodies_on_the_trailbase_family_are_400(client, world, method, path):
    url = V1 + path.format(**world)
    response = client.request(method, url, content=DEEP_BODY, headers=JSON)
    assert response.status_code == 400, response.text
    assert response.json() == {"detail": "the body is nested too deeply"}
    _unchanged(client, world)


def test_a_deep_transaction_body_is_400(client, world):
    response = client.post(TX, content=b'{"operations": ' + DEEP_BODY + b"}", headers=JSON)
    assert response.status_code == 400, response.text
    assert response.json() == {"detail": "the body is nested too deeply"}
    _unchanged(client, world)


@pytest.mark.parametrize("path", ["/docs/records", "/docs/records/{doc}"])
def test_deep_bodies_on_the_core_family_are_422_json_invalid(client, world, path):
    method = "PATCH" if "{doc}" in path else "POST"
    body = b'{"data": {"j": ' + DEEP_BODY + b"}}"
    response = client.request(method, CORE + path.format(**world), content=body, headers=JSON)
    assert response.status_code == 422, response.text
    assert response.json() == {
        "detail": [
            {"loc": ["body"], "msg": "the body is nested too deeply", "type": "json_invalid"}
        ]
    }
    _unchanged(client, world)


# -- 2: deep values of json fields ----------------------------------------------------------


@pytest.mark.parametrize("family", list(LOCS))
def test_a_json_value_nested_1000_deep_is_422_naming_the_field(client, world, family):
    field = _json_field(family)
    response = _send(client, world, family, field, _nested(1000))  # 2 kB, valid JSON
    assert response.status_code == 422, response.text
    assert response.json() == {
        "detail": [
            {
                "loc": [*LOCS[family], field],
                "msg": f"nested deeper than {MAX_JSON_DEPTH} levels",
                "type": "value_error",
            }
        ]
    }
    _unchanged(client, world)


@pytest.mark.parametrize("family", ["v1 create", "plain create", "core create"])
def test_json_values_up_to_the_depth_limit_are_stored_and_read_back(client, world, family):
    field = _json_field(family)
    too_deep = "[" * (MAX_JSON_DEPTH + 1) + "1" + "]" * (MAX_JSON_DEPTH + 1)
    assert _send(client, world, family, field, too_deep).status_code == 422
    response = _send(
        client, world, family, field, "[" * MAX_JSON_DEPTH + "1" + "]" * MAX_JSON_DEPTH
    )
    assert response.status_code == WRITTEN[family], response.text
    created = response.json()["ids"][0] if "ids" in response.json() else response.json()["id"]
    api = "notes" if family.startswith("plain") else "docs"
    read = client.get(f"{V1}/{api}/{created}")
    assert read.status_code == 200, read.text
    expected: Any = 1
    for _ in range(MAX_JSON_DEPTH):
        expected = [expected]
    assert read.json()[field] == expected


# -- 3: lone surrogates -------------------------------------------------------------------


def _surrogate_error(loc: list[Any]) -> dict[str, Any]:
    return {"detail": [{"loc": loc, "msg": SURROGATE, "type": "string_unicode"}]}


@pytest.mark.parametrize("family", list(LOCS))
def test_a_lone_surrogate_in_a_value_is_422_naming_the_field(client, world, family):
    field = _text_field(family)
    response = _send(client, world, family, field, '"abc\\ud800"')
    assert response.status_code == 422, response.text
    assert response.json() == _surrogate_error([*PATHS[family], field])
    _unchanged(client, world)
    # A surrogate pair is one character: stored as such.
    paired = _send(client, world, family, field, '"smile \\ud83d\\ude00"')
    assert paired.status_code == WRITTEN[family], paired.text
    table = "notes" if family.startswith("plain") else "docs"
    assert "smile \U0001f600" in [row[field] for row in table_rows(client, table)]


@pytest.mark.parametrize("family", list(LOCS))
def test_a_lone_surrogate_in_a_key_is_422_naming_it_escaped(client, world, family):
    response = _send(client, world, family, "\\udfff", "1")
    assert response.status_code == 422, response.text
    assert response.json() == _surrogate_error([*PATHS[family], "\\udfff"])
    _unchanged(client, world)


@pytest.mark.parametrize("family", list(LOCS))
def test_a_lone_surrogate_inside_a_json_value_is_422_with_its_path(client, world, family):
    field = _json_field(family)
    response = _send(client, world, family, field, '{"a": [1, "\\ud83d"]}')
    assert response.status_code == 422, response.text
    assert response.json() == _surrogate_error([*PATHS[family], field, "a", 1])
    _unchanged(client, world)


@pytest.mark.parametrize(
    "body",
    [
        b'{"t": "\xed\xa0\x80"}',  # a surrogate encoded as UTF-8: not UTF-8
        '{"t": "x"}'.encode("utf-16"),
        b'{"t": NaN}',
        b'{"t": Infinity}',
        b'{"t": "x", "n": 1e400}',  # no double holds it
    ],
)
@pytest.mark.parametrize("url", [f"{V1}/docs", f"{V1}/notes"])
def test_bodies_that_are_not_json_are_400(client, world, url, body):
    response = client.post(url, content=body, headers=JSON)
    assert response.status_code == 400, response.text
    expected = "the body holds a number out of range" if b"1e400" in body else None
    assert response.json() == {"detail": expected or "the body is not valid JSON"}
    _unchanged(client, world)


def test_core_bodies_that_are_not_json_are_422_json_invalid(client, world):
    for body in (b'{"data": {"t": "\xed\xa0\x80"}}', b'{"data": {"t": NaN}}'):
        response = client.post(f"{CORE}/docs/records", content=body, headers=JSON)
        assert response.status_code == 422, response.text
        [error] = response.json()["detail"]
        assert (error["loc"], error["type"]) == (["body"], "json_invalid")
    _unchanged(client, world)


# -- 4: body size ---------------------------------------------------------------------------

TOO_LARGE = {"detail": "the request body is larger than 1048576 bytes"}


@pytest.mark.parametrize("url", [f"{V1}/docs", f"{V1}/notes", f"{CORE}/docs/records", TX])
@pytest.mark.parametrize("token", [None, "garbage"])
def test_a_12_mb_body_is_413_before_any_token_check(client, world, url, token):
    headers = JSON | ({"Authorization": f"Bearer {token}"} if token else {})
    body = b'{"t": "' + b"x" * 12_000_000 + b'"}'
    response = client.post(url, content=body, headers=headers)
    assert response.status_code == 413, response.text
    assert response.json() == TOO_LARGE
    assert response.headers["connection"] == "close"
    assert response.headers["x-request-id"]
    _unchanged(client, world)


def test_the_body_limit_is_the_configured_one(app_config):
    config = app_config.model_copy(update={"server_max_body_size": 64})
    with TestClient(create_app(config)) as small:
        response = small.post(f"{V1}/anything", content=b"[" + b" " * 62 + b"]", headers=JSON)
        assert response.status_code == 404, response.text  # 64 bytes: read, and routed
        response = small.post(f"{V1}/anything", content=b"[" + b" " * 63 + b"]", headers=JSON)
        assert response.status_code == 413, response.text
        assert response.json() == {"detail": "the request body is larger than 64 bytes"}


def _asgi_post(run, app, path: str, messages: Iterator[Message], headers=()):
    """POST a chunked body (``messages``) straight to ``app`` through ``run``.

    Returns the status, the response body and how many messages the app side read.
    """
    pulled = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal pulled
        message = next(messages, None)
        if message is None:
            return {"type": "http.disconnect"}
        pulled += 1
        return message

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"transfer-encoding", b"chunked"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    run(app, scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body, pulled


def _chunks(*bodies: bytes, endless: bytes | None = None) -> Iterator[Message]:
    for body in bodies:
        yield {"type": "http.request", "body": body, "more_body": True}
    while endless is not None:
        yield {"type": "http.request", "body": endless, "more_body": True}
    yield {"type": "http.request", "body": b"", "more_body": False}


def test_a_chunked_body_past_the_limit_is_cut_off_before_the_app_runs():
    called = False

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal called
        called = True

    limited = BodySizeLimitMiddleware(app, max_body_size=1_048_576)
    endless = _chunks(endless=b"x" * 65_536)
    status, body, pulled = _asgi_post(anyio.run, limited, f"{V1}/docs", endless)
    assert (status, orjson.loads(body)) == (413, TOO_LARGE)
    assert pulled == 17  # 16 chunks are the limit exactly; the 17th is one too many
    assert not called


def test_a_chunked_body_past_the_limit_is_413_before_the_token_check(client, world):
    headers = [(b"authorization", b"Bearer garbage"), (b"content-type", b"application/json")]
    endless = _chunks(b'{"t": "', endless=b"x" * 65_536)
    status, body, pulled = _asgi_post(
        client.portal.call, client.app, f"{V1}/docs", endless, headers
    )
    assert (status, orjson.loads(body), pulled) == (413, TOO_LARGE, 17)
    _unchanged(client, world)


def test_a_chunked_body_within_the_limit_reaches_the_route_whole(client, world):
    headers = [(b"content-type", b"application/json")]
    chunks = _chunks(b'{"t": "chun', b'ked"}')
    status, body, pulled = _asgi_post(client.portal.call, client.app, f"{V1}/docs", chunks, headers)
    assert status == 200, body
    assert pulled == 3
    assert "chunked" in [row["t"] for row in table_rows(client, "docs")]


# -- nearby: query strings and headers --------------------------------------------------------


@pytest.mark.parametrize("index", ["%C2%B2", "9" * 5000])  # "²" (a digit to isdigit()), 5000 digits
@pytest.mark.parametrize("prefix", [f"{V1}/docs", f"{CORE}/docs/records"])
def test_a_filter_group_index_that_is_no_small_number_is_400(client, world, prefix, index):
    response = client.get(f"{prefix}?filter[$and][{index}][t]=x")
    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith("filter group index must be a number: ")


def test_an_absurd_content_length_is_413_not_a_crash():
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError("the app must not run")

    limited = BodySizeLimitMiddleware(app, max_body_size=1_048_576)
    sent: list[Message] = []

    async def receive() -> Message:
        raise AssertionError("the body must not be read")

    async def send(message: Message) -> None:
        sent.append(message)

    headers = [(b"content-length", b"9" * 5000)]
    anyio.run(
        limited, {"type": "http", "method": "POST", "path": "/", "headers": headers}, receive, send
    )
    assert sent[0]["status"] == 413
    assert orjson.loads(sent[1]["body"]) == TOO_LARGE
