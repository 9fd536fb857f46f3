"""Access presets and SQL rules → the default record API's ACLs and rules."""

from __future__ import annotations

import pytest

from tinybase.auth.principal import ANONYMOUS, SYSTEM, Principal
from tinybase.collections.access import may_see, parse_options, record_api_config
from tinybase.errors import ValidationError
from tinybase.records.config import Permission

USER = Principal(user_id="0190a8f2-0000-7000-8000-000000000001")


def test_default_is_admin_for_every_operation() -> None:
    config = record_api_config("posts", {})
    assert config.acl_world == frozenset()
    assert config.acl_authenticated == frozenset()
    assert not may_see(USER, config)
    assert not may_see(ANONYMOUS, config)
    assert may_see(SYSTEM, config)


def test_public_read_opens_to_everyone() -> None:
    config = record_api_config("posts", {"access": {"read": "public", "list": "public"}})
    assert {Permission.READ, Permission.LIST} <= config.acl_world
    assert config.read_access_rule is None
    assert may_see(ANONYMOUS, config)


def test_owner_rules_filter_rows_and_pin_the_owner() -> None:
    access = {op: "owner" for op in ("list", "read", "create", "update", "delete")}
    config = record_api_config("posts", {"access": access})
    assert config.acl_world == frozenset()
    assert {
        Permission.CREATE,
        Permission.READ,
        Permission.LIST,
        Permission.UPDATE,
        Permission.DELETE,
    } <= config.acl_authenticated
    assert config.read_access_rule == "_ROW_.owner_id = _USER_.id"
    assert config.list_access_rule == "_ROW_.owner_id = _USER_.id"
    assert config.delete_access_rule == "_ROW_.owner_id = _USER_.id"
    assert config.create_access_rule == "_REQ_.owner_id = _USER_.id"
    assert "_ROW_.owner_id = _USER_.id" in config.update_access_rule
    assert may_see(USER, config)
    assert not may_see(ANONYMOUS, config)


def test_sql_rule_applies_to_everyone() -> None:
    config = record_api_config("posts", {"access": {"read": "_ROW_.published = 1"}})
    assert Permission.READ in config.acl_world
    assert config.read_access_rule == "_ROW_.published = 1"


def test_parse_options_normalizes_presets_and_merges() -> None:
    stored = parse_options({"access": {"read": " Public "}})
    assert stored == {"access": {"read": "public"}}
    merged = parse_options({"access": {"list": "auth"}}, current=stored)
    assert merged == {"access": {"read": "public", "list": "auth"}}


@pytest.mark.parametrize(
    ("raw", "loc"),
    [
        ({"acess": {}}, ["body", "options", "acess"]),
        ({"access": {"write": "public"}}, ["body", "options", "access", "write"]),
        ({"access": {"read": ""}}, ["body", "options", "access", "read"]),
        ({"access": {"read": 3}}, ["body", "options", "access", "read"]),
    ],
)
def test_bad_options_are_named(raw: dict, loc: list[str]) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_options(raw)
    assert caught.value.detail[0]["loc"] == loc
