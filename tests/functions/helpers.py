"""Helpers of the functions tests: function modules written into a functions folder."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

__all__ = ["ORDER_SCHEMAS", "SEED_EXAMPLE", "make_shop", "wait_for_output", "write_module"]

SEED_EXAMPLE = (Path(__file__).parent / "seed_complete_function.py.txt").read_text()
"""The seed's "Example: Complete Function", verbatim (seeds/tinybase-python-api.md)."""

ORDER_SCHEMAS: dict[str, Any] = {
    "products": {
        "fields": [{"name": "name", "type": "string"}, {"name": "price", "type": "number"}]
    },
    "orders": {
        "fields": [
            {"name": "product_id", "type": "relation", "collection": "products"},
            {"name": "quantity", "type": "integer", "min": 1},
            {"name": "total", "type": "number"},
            {"name": "status", "type": "select", "values": ["pending", "paid"]},
        ]
    },
}


def write_module(folder: Path, name: str, source: str) -> Path:
    """Write a function module ``name``.py (dedented) into ``folder``."""
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    return path


def make_shop(client: TestClient, admin_headers: dict[str, str]) -> str:
    """Create the seed example's ``products`` and ``orders`` collections over HTTP and one
    product priced 2.5; return the product's id."""
    for name, schema in ORDER_SCHEMAS.items():
        response = client.post(
            "/api/collections",
            json={"name": name, "label": name.title(), "schema": schema},
            headers=admin_headers,
        )
        assert response.status_code == 201, response.text
    response = client.post(
        "/api/collections/products/records",
        json={"data": {"name": "Widget", "price": 2.5}},
        headers=admin_headers,
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def wait_for_output(capfd: pytest.CaptureFixture[str], text: str, seconds: float = 5.0) -> str:
    """What the process printed until ``text`` shows up (or ``seconds`` pass)."""
    seen = ""
    deadline = time.monotonic() + seconds
    while text not in seen and time.monotonic() < deadline:
        time.sleep(0.01)
        seen += capfd.readouterr().out
    return seen
