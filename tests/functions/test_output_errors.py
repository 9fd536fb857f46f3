"""A function whose output cannot be encoded is the function's bug, not the caller's.

It was a 400 carrying pydantic's internal message (``Unable to serialize unknown type``,
``PydanticSerializationError`` is a ``ValueError``): now a 500 with the generic detail,
the message kept in the call record for admins.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import TestUser

SOURCE = """
from typing import Any

from tinybase.functions import Context, register


class Opaque:
    pass


@register(name="opaque", auth="public")
def opaque(ctx: Context) -> Any:
    return {"value": Opaque()}


@register(name="refuses", auth="public")
def refuses(ctx: Context) -> dict:
    raise ValueError("quantity must be positive")
"""


@pytest.fixture
def function_modules() -> dict[str, str]:
    return {"outputs": SOURCE}


def test_an_output_that_cannot_be_encoded_is_a_generic_500(
    client: TestClient, admin: TestUser
) -> None:
    response = client.post("/api/functions/opaque", json={})
    assert response.status_code == 500, response.text
    body: dict[str, Any] = response.json()
    assert body["detail"] == "Internal server error"
    assert body["error_type"] == "PydanticSerializationError"
    assert "Opaque" not in response.text and "serialize" not in response.text
    record = client.get(f"/api/admin/functions/calls/{body['call_id']}", headers=admin.headers)
    assert record.status_code == 200
    assert record.json()["status"] == "failed"
    assert "Unable to serialize unknown type" in record.json()["error_message"]


def test_a_value_error_of_the_function_is_still_the_callers_400(client: TestClient) -> None:
    response = client.post("/api/functions/refuses", json={})
    assert response.status_code == 400
    assert response.json()["detail"] == "quantity must be positive"
    assert response.json()["error_type"] == "ValueError"
