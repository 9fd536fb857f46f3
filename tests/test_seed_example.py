"""The seed's "Complete Function" example runs as written, on both dialects.

``tinybase.functions`` (``register``, ``Context``) is not built yet: the function body below is
the seed's, verbatim, and ``ctx`` is a minimal stand-in with the two attributes the body uses
(``db``, a real SQLModel ``Session``, and ``user_id``). The ``@register`` decorator and the
``on_function_complete`` hook are left out until those modules exist.
"""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest
from pydantic import BaseModel, Field
from sqlmodel import Session, select

from tests.collections.helpers import insert_user
from tinybase.collections.service import CollectionService
from tinybase.data import Database
from tinybase.db.models import Record


class OrderInput(BaseModel):
    product_id: str
    quantity: int = Field(ge=1, le=100)


class OrderOutput(BaseModel):
    order_id: str
    total: float


def create_order(ctx, payload: OrderInput) -> OrderOutput:
    """Create an order for the authenticated user."""
    # Get product from collection
    service = CollectionService(ctx.db)
    products = service.get_collection_by_name("products")

    product = ctx.db.exec(
        select(Record).where(Record.collection_id == products.id, Record.id == payload.product_id)
    ).first()

    if not product:
        raise ValueError("Product not found")

    # Calculate total
    price = product.data["price"]
    total = price * payload.quantity

    # Create order record
    orders = service.get_collection_by_name("orders")
    order = service.create_record(
        orders,
        data={
            "product_id": payload.product_id,
            "quantity": payload.quantity,
            "total": total,
            "status": "pending",
        },
        owner_id=ctx.user_id,
    )

    return OrderOutput(order_id=str(order.id), total=total)


def test_complete_function_example_runs_as_written(migrated_db: Database) -> None:
    user_id = insert_user(migrated_db, email="buyer@example.com")
    with Session(migrated_db.engine) as session:
        setup = CollectionService(session)
        products = setup.create_collection(
            "products",
            "Products",
            {"fields": [{"name": "name", "type": "string"}, {"name": "price", "type": "number"}]},
        )
        setup.create_collection(
            "orders",
            "Orders",
            {
                "fields": [
                    {"name": "product_id", "type": "relation", "collection": "products"},
                    {"name": "quantity", "type": "integer", "min": 1},
                    {"name": "total", "type": "number"},
                    {"name": "status", "type": "select", "values": ["pending", "paid"]},
                ]
            },
        )
        product = setup.create_record(products, {"name": "Widget", "price": 2.5})

        ctx = SimpleNamespace(db=session, user_id=user_id)
        output = create_order(ctx, OrderInput(product_id=str(product.id), quantity=4))

        assert output.total == 10.0
        order = session.exec(select(Record).where(Record.id == output.order_id)).one()
        assert order.owner_id == user_id
        assert order.data == {
            "product_id": str(product.id),
            "quantity": 4,
            "total": 10.0,
            "status": "pending",
        }
        with pytest.raises(ValueError, match="Product not found"):
            create_order(ctx, OrderInput(product_id=str(uuid.uuid4()), quantity=1))
