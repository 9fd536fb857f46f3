"""Random insert/update/delete/upsert sequences leave the database like a plain dict model."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinybase.data import Database, NotFoundError


@dataclass
class Entry:
    id: int
    owner: str | None
    val: int | None


keys = st.integers(min_value=1, max_value=6)
owners = st.sampled_from(["a", "b", None])
vals = st.integers(min_value=-5, max_value=5) | st.none()
operation = st.tuples(
    st.sampled_from(["insert", "update", "delete", "upsert"]),
    st.booleans(),  # through the table restricted by xtra(owner="a")?
    keys,
    owners,
    vals,
)

Model = dict[int, tuple[str | None, int | None]]


def apply_to_model(model: Model, op: str, scoped: bool, key: int, owner, val) -> str:
    """Apply one operation to the model; return the expected outcome."""
    if scoped:
        owner = "a"
    visible = key in model and (not scoped or model[key][0] == "a")
    if op == "insert":
        if key in model:
            return "integrity"
        model[key] = (owner, val)
    elif op == "update":
        if not visible:
            return "notfound"
        model[key] = (model[key][0] if scoped else owner, val)
    elif op == "delete":
        if not visible:
            return "notfound"
        del model[key]
    elif key in model and not visible:
        return "notfound"
    else:
        model[key] = (model[key][0] if scoped and key in model else owner, val)
    return "ok"


def apply_to_db(db: Database, op: str, scoped: bool, key: int, owner, val) -> str:
    table = db.t.entry
    if scoped:
        table.xtra(owner="a")
    try:
        if op == "delete":
            table.delete(key)
        else:
            getattr(table, op)(id=key, owner=owner, val=val)
    except NotFoundError:
        return "notfound"
    except sa.exc.IntegrityError:
        return "integrity"
    return "ok"


def check_sequences(db: Database, data: st.DataObject) -> None:
    db.q("DELETE FROM entry")
    model: Model = {}
    for op in data.draw(st.lists(operation, max_size=25)):
        assert apply_to_db(db, *op) == apply_to_model(model, *op), op
    assert {e.id: (e.owner, e.val) for e in db.t.entry()} == model
    scoped = db.t.entry
    scoped.xtra(owner="a")
    assert {e.id: e.val for e in scoped()} == {k: v for k, (o, v) in model.items() if o == "a"}
    assert scoped.count == sum(1 for o, _ in model.values() if o == "a")


PROPERTY_SETTINGS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@PROPERTY_SETTINGS
@given(data=st.data())
def test_operations_match_a_dict_model(raw_db: Database, data: st.DataObject) -> None:
    if "entry" not in raw_db.t:
        raw_db.create(Entry)
    check_sequences(raw_db, data)
