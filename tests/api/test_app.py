"""The app as a whole: its routing of the record families, their docs, the shared layers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from tests.api.helpers import FAST_TEST_CONFIG
from tinybase.api.app import create_app, telemetry_settings
from tinybase.api.routes import collections
from tinybase.api.routing import PlainRoute, add_plain_routes
from tinybase.settings import load_config

RECORD_OPERATIONS = {
    ("/api/records/v1/{api}", "get"): {"api"},
    ("/api/records/v1/{api}", "post"): {"api"},
    ("/api/records/v1/{api}/{record_id}", "get"): {"api", "record_id", "expand"},
    ("/api/records/v1/{api}/{record_id}", "patch"): {"api", "record_id"},
    ("/api/records/v1/{api}/{record_id}", "delete"): {"api", "record_id"},
    ("/api/records/v1/{api}/schema", "get"): {"api", "mode"},
    ("/api/collections/{name}/records", "get"): {"name", "limit", "offset", "sort_by"},
    ("/api/collections/{name}/records", "post"): {"name"},
    ("/api/collections/{name}/records/{record_id}", "get"): {"name", "record_id"},
    ("/api/collections/{name}/records/{record_id}", "patch"): {"name", "record_id"},
    ("/api/collections/{name}/records/{record_id}", "delete"): {"name", "record_id"},
}


@pytest.fixture
def client(sqlite_url: str) -> Iterator[TestClient]:
    config = load_config(db_url=sqlite_url, cors_allow_origins=["https://app.example"])
    with TestClient(create_app(config.model_copy(update=FAST_TEST_CONFIG))) as test_client:
        yield test_client


def test_record_routes_are_the_apps_own_plain_routes(client: TestClient) -> None:
    plain = {
        (route.path, method.lower())
        for route in client.app.routes
        if isinstance(route, PlainRoute)
        for method in route.methods
    }
    assert set(RECORD_OPERATIONS) <= plain
    # Both TrailBase prefixes, the collections family, and calling a function.
    assert len(plain) == 2 * 6 + 5 + 1
    assert ("/api/functions/{name}", "post") in plain
    assert not any(isinstance(route, PlainRoute) for route in collections.router.routes)


def test_only_plain_routes_can_be_added_as_the_apps_own() -> None:
    router = APIRouter()

    @router.get("/x")
    def handler(limit: int = 1) -> dict[str, int]:
        return {"limit": limit}

    with pytest.raises(TypeError, match="/x"):
        add_plain_routes(APIRouter(), router)


def test_openapi_documents_the_plain_routes_parameters_and_optional_bearer_scheme(
    client: TestClient,
) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for (path, method), expected in RECORD_OPERATIONS.items():
        operation = paths[path][method]
        names = {parameter["name"] for parameter in operation["parameters"]}
        assert expected <= names, (path, method, names)
        assert operation["security"] == [{"HTTPBearer": []}, {}], (path, method)  # optional
    assert "requestBody" in paths["/api/collections/{name}/records"]["post"]
    assert not any(path.startswith("/api/v1/records") for path in paths)  # the aliases


def test_plain_routes_keep_the_error_handler_request_id_and_cors(client: TestClient) -> None:
    response = client.get(
        "/api/records/v1/anything/1",
        headers={"Authorization": "Bearer not-a-token", "Origin": "https://app.example"},
    )
    assert response.status_code == 401
    assert set(response.json()) == {"detail"}
    assert response.headers["x-request-id"]
    assert response.headers["access-control-allow-origin"] == "https://app.example"
    missing = client.get("/api/collections/nothing-here/records")
    assert missing.status_code == 404
    assert set(missing.json()) == {"detail"}


def test_fastapi_telemetry_is_off_unless_configured() -> None:
    off = telemetry_settings(load_config())
    assert off is not None
    assert not any(off[key] for key in ("tracing", "metrics", "logs", "operation_spans"))
    assert telemetry_settings(load_config(opentelemetry_enabled=True)) is None
