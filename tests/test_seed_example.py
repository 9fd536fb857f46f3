"""The seed's "Complete Function" example runs as written, on both dialects.

The module is the seed's code block, verbatim (tests/functions/seed_complete_function.py.txt),
imported by the functions loader as an instance imports its functions folder; the function
gets a real :class:`tinybase.functions.Context` over a plain SQLModel ``Session`` (a script's
session: ``CollectionService`` writes directly). The same example over HTTP, as a user calls
it on a running instance, is tests/functions/test_seed_function.py.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlmodel import Session, select

from tests.collections.helpers import insert_user
from tests.functions.helpers import ORDER_SCHEMAS, SEED_EXAMPLE, write_module
from tinybase.collections.service import CollectionService
from tinybase.data import Database
from tinybase.db.models import Record
from tinybase.extensions.hooks import HookKind, collected_hooks
from tinybase.functions import Context
from tinybase.functions.loader import instance_hooks, load_functions
from tinybase.functions.registry import FunctionRegistry
from tinybase.utils import utcnow, uuid7


def test_complete_function_example_runs_as_written(migrated_db: Database, tmp_path: Path) -> None:
    write_module(tmp_path, "orders", SEED_EXAMPLE)
    load = load_functions(tmp_path)
    assert load.failures == []
    spec = FunctionRegistry(load.specs).get("create_order")
    assert (spec.description, spec.auth.value, spec.tags) == (
        "Create a new order",
        "auth",
        ("orders",),
    )
    (hook,) = [h for h in instance_hooks(load, collected_hooks()) if h.module in load.modules]
    assert (hook.kind, hook.target) == (HookKind.FUNCTION_COMPLETE, "create_order")

    user_id = insert_user(migrated_db, email="buyer@example.com")
    with Session(migrated_db.engine) as session:
        setup = CollectionService(session)
        products = setup.create_collection("products", "Products", ORDER_SCHEMAS["products"])
        setup.create_collection("orders", "Orders", ORDER_SCHEMAS["orders"])
        product = setup.create_record(products, {"name": "Widget", "price": 2.5})

        ctx = Context(
            function_name="create_order",
            trigger_type="manual",
            trigger_id=None,
            request_id=uuid7(),
            user_id=user_id,
            is_admin=False,
            now=utcnow(),
            db=session,
            request=None,
        )
        payload = spec.input_type(product_id=str(product.id), quantity=4)
        output = spec.handler(ctx, payload)

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
            spec.handler(ctx, spec.input_type(product_id=str(uuid.uuid4()), quantity=1))
