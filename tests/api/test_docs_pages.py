"""``/docs`` and ``/redoc`` load only the files vendored in the package (no CDN, no fonts)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import FAST_TEST_CONFIG
from tinybase.api.app import create_app
from tinybase.settings import load_config

ASSETS = {
    "/docs": {
        "/docs/static/swagger-ui/swagger-ui.css": "text/css; charset=utf-8",
        "/docs/static/swagger-ui/favicon-32x32.png": "image/png",
        "/docs/static/swagger-ui/swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    },
    "/redoc": {
        "/docs/static/swagger-ui/favicon-32x32.png": "image/png",
        "/docs/static/redoc/redoc.standalone.js": "text/javascript; charset=utf-8",
    },
}
SPEC_REFERENCE = {"/docs": "url: '/openapi.json'", "/redoc": 'spec-url="/openapi.json"'}
LICENCES = (
    "/docs/static/swagger-ui/LICENSE",
    "/docs/static/swagger-ui/NOTICE",
    "/docs/static/redoc/LICENSE",
    "/docs/static/README.md",
)


@pytest.fixture
def client(sqlite_url: str) -> Iterator[TestClient]:
    config = load_config(db_url=sqlite_url).model_copy(update=FAST_TEST_CONFIG)
    with TestClient(create_app(config)) as test_client:
        yield test_client


@pytest.mark.parametrize("page", sorted(ASSETS))
def test_docs_page_loads_only_vendored_assets(client: TestClient, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200
    referenced = re.findall(r'(?:src|href)="([^"]*)"', response.text)
    assert sorted(referenced) == sorted(ASSETS[page])
    assert SPEC_REFERENCE[page] in response.text
    for url, content_type in ASSETS[page].items():
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert asset.headers["content-type"] == content_type


@pytest.mark.parametrize("page", sorted(ASSETS))
def test_docs_page_policy_allows_only_this_server(client: TestClient, page: str) -> None:
    policy = client.get(page).headers["content-security-policy"]
    assert policy == (
        "default-src 'self'; script-src 'self' 'unsafe-inline'; "
        "style-src 'self' 'unsafe-inline'; img-src 'self' data:; worker-src 'self' blob:"
    )


def test_vendored_licences_are_served_with_the_assets(client: TestClient) -> None:
    for url in LICENCES:
        assert client.get(url).status_code == 200, url
    readme = client.get("/docs/static/README.md").text
    assert "| `swagger-ui-dist` | 5.35.0 | Apache-2.0" in readme
    assert "| `redoc` | 2.5.4 | MIT" in readme


def test_docs_assets_outside_the_vendored_folder_are_not_served(client: TestClient) -> None:
    for url in ("/docs/static/../routes/docs.py", "/docs/static/%2e%2e/routes/docs.py"):
        assert client.get(url).status_code == 404, url
