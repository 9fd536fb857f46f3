"""The seed's "Example: Complete Function", verbatim in the functions folder, over HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import TestUser, table_rows
from tests.functions.helpers import SEED_EXAMPLE, make_shop, wait_for_output


@pytest.fixture
def function_modules() -> dict[str, str]:
    return {"orders": SEED_EXAMPLE}


def test_seed_example_creates_the_callers_order(
    client: TestClient,
    admin: TestUser,
    make_user: Callable[..., TestUser],
    capfd: pytest.CaptureFixture[str],
) -> None:
    product_id = make_shop(client, admin.headers)
    buyer = make_user()

    response = client.post(
        "/api/functions/create_order",
        json={"product_id": product_id, "quantity": 4},
        headers=buyer.headers,
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == 10.0
    orders = table_rows(client, "orders")
    assert len(orders) == 1
    order = orders[0]
    assert str(order["id"]) == body["order_id"]
    assert str(order["owner_id"]) == buyer.id
    assert (order["product_id"], order["quantity"], order["total"], order["status"]) == (
        product_id,
        4,
        10.0,
        "pending",
    )
    # The completion hook runs after the response, from the instance's hook runner.
    assert "Order created successfully in " in wait_for_output(capfd, "Order created")


def test_seed_example_unknown_product_is_a_400_with_the_call_id(
    client: TestClient, admin: TestUser, make_user: Callable[..., TestUser]
) -> None:
    make_shop(client, admin.headers)
    buyer = make_user()
    response = client.post(
        "/api/functions/create_order",
        json={"product_id": str(uuid.uuid4()), "quantity": 1},
        headers=buyer.headers,
    )
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == "Product not found"
    assert body["error_type"] == "ValueError"
    assert uuid.UUID(body["call_id"])
    assert table_rows(client, "orders") == []


def test_seed_example_needs_a_logged_in_caller(client: TestClient) -> None:
    response = client.post("/api/functions/create_order", json={"product_id": "x", "quantity": 1})
    assert response.status_code == 401


def test_seed_example_quantity_out_of_range_is_a_422_naming_the_field(
    client: TestClient, make_user: Callable[..., TestUser]
) -> None:
    buyer = make_user()
    response = client.post(
        "/api/functions/create_order",
        json={"product_id": "x", "quantity": 101},
        headers=buyer.headers,
    )
    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["body", "quantity"]]
