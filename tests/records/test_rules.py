"""Access rules: compilation, the rewrite of _USER_/_ROW_/_REQ_/_REQ_FIELDS_, and enforcement."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.records.helpers import ALL, MakeEngine, insert_items
from tinybase.auth.principal import ANONYMOUS, SYSTEM
from tinybase.errors import (
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from tinybase.records.access import check_rules, compile_rules
from tinybase.records.config import Permission, RecordApiConfig
from tinybase.records.query import ListQuery
from tinybase.records.rules import compile_rule

OWNER = "_ROW_.owner_id = _USER_.id"


def _columns(schema):
    return {column.name: column for column in schema.items.columns}


def test_rule_text_keeps_literals_comments_and_colons(schema):
    rule = compile_rule(
        "_ROW_.title = '_USER_.id :x' /* _ROW_.x */ AND \"_REQ_\" IS NULL -- _REQ_.x\n"
        "AND _user_.ID = _ROW_.owner_id",
        "read",
        _columns(schema),
        dialect="sqlite",
    )
    text = rule.clause.text
    assert "'_USER_.id \\:x'" in text
    assert '"_REQ_"' in text
    assert "_row_.title" in text and ":tb_user_id = _row_.owner_id" in text
    assert rule.request_fields == {}


@pytest.mark.parametrize(
    ("source", "operation"),
    [
        ("_ROW_.owner_id = _USER_.id", "create"),
        ("_REQ_.title = 'x'", "read"),
        ("_REQ_.nope = 1", "create"),
        ("_USER_.email = 'x'", "read"),
        ("_ROW_ = 1", "read"),
        ("'x' IN _REQ_FIELDS_", "delete"),
        ("'unterminated", "read"),
        ("   ", "read"),
    ],
)
def test_misused_rules_are_rejected_at_compile_time(schema, source, operation):
    with pytest.raises(ValidationError) as error:
        compile_rule(source, operation, _columns(schema), dialect="sqlite")
    assert error.value.detail[0]["loc"] == ["body", f"{operation}_access_rule"]


@pytest.mark.parametrize(
    "source",
    ["_ROW_.no_such_column = 1", "_ROW_.title = = 1", "EXISTS(SELECT 1 FROM no_such_table)"],
)
def test_rules_the_database_rejects_fail_when_saved_with_its_message(raw_db, schema, source):
    api = RecordApiConfig(name="items", table_name="items", read_access_rule=source)
    rules = compile_rules(api, schema.items, dialect=raw_db.dialect)
    with raw_db.read() as connection, pytest.raises(ValidationError) as error:
        check_rules(connection, schema.items, rules)
    detail = error.value.detail[0]
    assert detail["loc"] == ["body", "read_access_rule"]
    assert detail["msg"]


def test_valid_rules_pass_the_save_check(raw_db, schema):
    api = RecordApiConfig(
        name="items",
        table_name="items",
        create_access_rule="_REQ_.owner_id = _USER_.id AND 'title' IN _REQ_FIELDS_",
        read_access_rule=OWNER,
        update_access_rule=f"{OWNER} AND _REQ_.score > 0",
        delete_access_rule="EXISTS(SELECT 1 FROM groups g WHERE g.member = _USER_.id)",
        schema_access_rule="_USER_.id IS NOT NULL",
    )
    rules = compile_rules(api, schema.items, dialect=raw_db.dialect)
    with raw_db.read() as connection:
        check_rules(connection, schema.items, rules)


def test_owner_rule_hides_other_users_rows(raw_db, schema, users, make_engine: MakeEngine):
    alice, bob = users["alice"], users["bob"]
    ids = insert_items(
        raw_db,
        schema,
        [{"title": "a", "owner_id": alice.user_id}, {"title": "b", "owner_id": bob.user_id}],
    )
    engine = make_engine(acl_authenticated=ALL, read_access_rule=OWNER)
    assert [r["title"] for r in engine.list(alice, ListQuery()).records] == ["a"]
    assert engine.read(alice, ids[0])["title"] == "a"
    with pytest.raises(NotFoundError):
        engine.read(alice, ids[1])
    assert engine.list(alice, ListQuery(count=True)).total_count == 1
    assert engine.list(SYSTEM, ListQuery(count=True)).total_count == 2


def test_update_and_delete_of_hidden_rows_are_404_and_change_nothing(
    raw_db, schema, users, make_engine: MakeEngine
):
    alice, bob = users["alice"], users["bob"]
    (bobs,) = insert_items(raw_db, schema, [{"title": "b", "owner_id": bob.user_id, "score": 1}])
    engine = make_engine(
        acl_authenticated=ALL,
        read_access_rule=OWNER,
        update_access_rule=OWNER,
        delete_access_rule=OWNER,
    )
    with pytest.raises(NotFoundError):
        engine.update(alice, bobs, {"score": 99})
    with pytest.raises(NotFoundError):
        engine.delete(alice, bobs)
    with pytest.raises(NotFoundError):
        engine.update(alice, "no-such-id", {"score": 99})
    assert engine.read(bob, bobs)["score"] == 1


def test_update_of_a_readable_row_the_rule_denies_is_403(raw_db, schema, users, make_engine):
    alice, bob = users["alice"], users["bob"]
    (bobs,) = insert_items(raw_db, schema, [{"title": "b", "owner_id": bob.user_id, "score": 1}])
    engine = make_engine(acl_authenticated=ALL, update_access_rule=OWNER, delete_access_rule=OWNER)
    with pytest.raises(PermissionDeniedError):
        engine.update(alice, bobs, {"score": 99})
    with pytest.raises(PermissionDeniedError):
        engine.delete(alice, bobs)
    assert engine.read(bob, bobs)["score"] == 1


def test_acls_give_401_to_anonymous_and_403_to_users(users, make_engine: MakeEngine):
    engine = make_engine(acl_authenticated=frozenset({Permission.LIST}))
    with pytest.raises(AuthenticationError):
        engine.list(ANONYMOUS, ListQuery())
    with pytest.raises(PermissionDeniedError):
        engine.create(users["alice"], {"title": "x"})
    with pytest.raises(PermissionDeniedError):
        engine.create(ANONYMOUS, {"title": "x"})
    assert engine.list(users["alice"], ListQuery()).records == []


def test_world_acl_with_user_rule_treats_anonymous_as_null(raw_db, schema, users, make_engine):
    insert_items(
        raw_db, schema, [{"title": "a", "owner_id": users["alice"].user_id}, {"title": "p"}]
    )
    engine = make_engine(
        acl_world=frozenset({Permission.LIST}),
        read_access_rule="_ROW_.owner_id IS NULL OR _ROW_.owner_id = _USER_.id",
    )
    assert [r["title"] for r in engine.list(ANONYMOUS, ListQuery(order="title")).records] == ["p"]
    titles = [r["title"] for r in engine.list(users["alice"], ListQuery(order="title")).records]
    assert titles == ["a", "p"]


def test_create_rule_with_req_blocks_spoofed_owner(raw_db, schema, users, make_engine):
    alice, bob = users["alice"], users["bob"]
    engine = make_engine(
        acl_authenticated=ALL,
        create_access_rule="_REQ_.owner_id = _USER_.id",
        read_access_rule=OWNER,
    )
    with pytest.raises(PermissionDeniedError):
        engine.create(alice, {"title": "spoof", "owner_id": bob.user_id})
    with pytest.raises(PermissionDeniedError):
        engine.create(alice, {"title": "nobody"})
    (created,) = engine.create(alice, {"title": "mine", "owner_id": alice.user_id})
    with raw_db.read() as connection:
        titles = connection.execute(sa.select(schema.items.c.title)).scalars().all()
    assert titles == ["mine"]
    assert engine.read(alice, created)["owner_id"] == alice.user_id


def test_autofill_fills_user_columns_and_req_sees_it(raw_db, schema, users, make_engine):
    alice = users["alice"]
    engine = make_engine(
        acl_authenticated=ALL,
        autofill_missing_user_id_columns=True,
        create_access_rule="_REQ_.owner_id IS NULL OR _REQ_.owner_id = _USER_.id",
    )
    (created,) = engine.create(alice, {"title": "auto"})
    assert engine.read(alice, created)["owner_id"] == alice.user_id
    with pytest.raises(PermissionDeniedError):
        engine.create(alice, {"title": "x", "owner_id": users["bob"].user_id})


def test_req_fields_rule_prevents_changing_protected_fields(raw_db, schema, users, make_engine):
    alice = users["alice"]
    (mine,) = insert_items(raw_db, schema, [{"title": "a", "owner_id": alice.user_id, "score": 1}])
    engine = make_engine(
        acl_authenticated=ALL,
        update_access_rule=f"{OWNER} AND NOT 'owner_id' IN _REQ_FIELDS_",
    )
    with pytest.raises(PermissionDeniedError):
        engine.update(alice, mine, {"owner_id": users["bob"].user_id})
    assert engine.update(alice, mine, {"score": 2})["score"] == 2
    assert engine.read(alice, mine)["owner_id"] == alice.user_id


def test_update_rule_sees_req_values(raw_db, schema, users, make_engine):
    alice = users["alice"]
    (mine,) = insert_items(raw_db, schema, [{"title": "a", "owner_id": alice.user_id, "score": 1}])
    engine = make_engine(
        acl_authenticated=ALL, update_access_rule=f"{OWNER} AND _REQ_.score BETWEEN 0 AND 10"
    )
    with pytest.raises(PermissionDeniedError):
        engine.update(alice, mine, {"score": 11})
    assert engine.update(alice, mine, {"score": 10})["score"] == 10


GROUP_RULE = (
    "EXISTS(SELECT 1 FROM groups WHERE groups.member = _USER_.id AND groups.grp = _ROW_.grp)"
)


def test_group_membership_rule_correlates_with_the_row(raw_db, schema, users, make_engine):
    alice, bob = users["alice"], users["bob"]
    with raw_db.write() as connection:
        connection.execute(
            schema.groups.insert(),
            [{"member": alice.user_id, "grp": "red"}, {"member": bob.user_id, "grp": "blue"}],
        )
    red, blue, _ = insert_items(
        raw_db,
        schema,
        [{"title": "r", "grp": "red"}, {"title": "b", "grp": "blue"}, {"title": "n"}],
    )
    engine = make_engine(
        acl_authenticated=ALL,
        read_access_rule=GROUP_RULE,
        update_access_rule=GROUP_RULE,
        delete_access_rule=GROUP_RULE,
        create_access_rule=(
            "EXISTS(SELECT 1 FROM groups g WHERE g.member = _USER_.id AND g.grp = _REQ_.grp)"
        ),
    )
    assert [r["title"] for r in engine.list(alice, ListQuery()).records] == ["r"]
    assert [r["title"] for r in engine.list(bob, ListQuery()).records] == ["b"]
    with pytest.raises(NotFoundError):
        engine.update(alice, blue, {"score": 5})
    assert engine.update(alice, red, {"score": 5})["score"] == 5
    with pytest.raises(PermissionDeniedError):
        engine.create(alice, {"title": "x", "grp": "blue"})
    engine.create(alice, {"title": "y", "grp": "red"})
    with pytest.raises(NotFoundError):
        engine.delete(bob, red)
    engine.delete(alice, red)
    assert [r["title"] for r in engine.list(alice, ListQuery()).records] == ["y"]
    assert engine.read(bob, blue)["score"] is None


def test_seed_secret_and_group_rule(raw_db, schema, users, make_engine):
    alice = users["alice"]
    with raw_db.write() as connection:
        connection.execute(schema.groups.insert(), [{"member": alice.user_id, "grp": "mygroup"}])
    engine = make_engine(
        acl_authenticated=ALL,
        create_access_rule=(
            "(_REQ_._secret = 'foo' AND EXISTS(SELECT 1 FROM groups "
            "WHERE groups.member = _USER_.id AND groups.grp = 'mygroup'))"
        ),
    )
    with pytest.raises(PermissionDeniedError):
        engine.create(alice, {"title": "x", "_secret": "bar"})
    with pytest.raises(PermissionDeniedError):
        engine.create(users["bob"], {"title": "y", "_secret": "foo"})
    (created,) = engine.create(alice, {"title": "z", "_secret": "foo"})
    assert "_secret" not in engine.read(alice, created)


def test_admin_bypasses_acls_and_rules(raw_db, schema, users, make_engine):
    (bobs,) = insert_items(raw_db, schema, [{"title": "b", "owner_id": users["bob"].user_id}])
    engine = make_engine(read_access_rule="1 = 0", update_access_rule="1 = 0")
    assert engine.read(SYSTEM, bobs)["title"] == "b"
    assert engine.update(SYSTEM, bobs, {"score": 3})["score"] == 3


def test_schema_acl_and_rule(users, make_engine):
    engine = make_engine(
        acl_authenticated=frozenset({Permission.SCHEMA}),
        schema_access_rule=f"_USER_.id = '{users['alice'].user_id}'",
    )
    schema = engine.json_schema(users["alice"], "Select")
    assert "_secret" not in schema["properties"] and "title" in schema["properties"]
    assert "_secret" in engine.json_schema(users["alice"], "Insert")["properties"]
    with pytest.raises(PermissionDeniedError):
        engine.json_schema(users["bob"], "Select")
    with pytest.raises(AuthenticationError):
        engine.json_schema(ANONYMOUS, "Select")
