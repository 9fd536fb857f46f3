"""A collection's access options → the configuration of its default record API.

``options.access`` holds one entry per operation (``list``, ``read``, ``create``, ``update``,
``delete``), each a preset of :class:`tinybase.utils.AccessRule` or a SQL rule:

============  ==========================================================================
``public``    anyone, signed in or not
``auth``      any signed-in user
``owner``     signed-in users, on their own rows only (``_ROW_.owner_id = _USER_.id``);
              a create records the caller as the owner
``admin``     admins only (the default for every operation: closed until opened)
SQL           a boolean expression over ``_USER_.id``, ``_ROW_.<col>``, ``_REQ_.<field>``
              (evaluated for everyone, signed in or not; ``_USER_.id`` is NULL when not)
============  ==========================================================================

Everything compiles to ACLs plus rules of a :class:`RecordApiConfig`, so the record engine
enforces presets and SQL rules through the same path, in the SQL statement itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tinybase.auth.principal import Principal
from tinybase.errors import ValidationError
from tinybase.records.access import may
from tinybase.records.config import Permission, RecordApiConfig
from tinybase.utils import AccessRule

__all__ = [
    "OPERATIONS",
    "access_rules",
    "allowed_operations",
    "may_see",
    "parse_options",
    "record_api_config",
]

#: The operations an access entry can name, and the permission each needs.
OPERATIONS: dict[str, Permission] = {
    "list": Permission.LIST,
    "read": Permission.READ,
    "create": Permission.CREATE,
    "update": Permission.UPDATE,
    "delete": Permission.DELETE,
}

_OWNER_ROW = "_ROW_.owner_id = _USER_.id"
# A request may never hand a row to someone else: the owner is the caller (filled in from the
# token when absent) or nobody. Without this, a client of the TrailBase API family could plant
# rows in another user's `owner`-filtered view by sending their id as owner_id.
_OWNER_REQUEST = "_REQ_.owner_id = _USER_.id"
_NO_FOREIGN_OWNER = "(_REQ_.owner_id IS NULL OR _REQ_.owner_id = _USER_.id)"
# An update may never change the owner (admins bypass rules and may): otherwise, under
# `auth` or a SQL rule, anyone could take a row over by sending their own id, and under
# `owner` an owner could orphan a row by sending null. Echoing the current owner is fine.
_OWNER_UNCHANGED = "('owner_id' NOT IN _REQ_FIELDS_ OR _REQ_.owner_id = _ROW_.owner_id)"
_MAX_RULE_LENGTH = 4000
_KNOWN_OPTIONS = frozenset({"access"})


def parse_options(
    raw: Any, *, current: Mapping[str, Any] | None = None, loc: Sequence[str] = ("body", "options")
) -> dict[str, Any]:
    """Check options and return their stored form.

    Args:
        raw: ``{"access": {"read": "public", ...}}`` or None.
        current: the stored options being updated; access entries not named in ``raw`` keep
            their current value.
        loc: where the options sit in the request, for error locations.

    Raises:
        ValidationError: 422 naming each unknown option, operation or bad rule.
    """
    stored_access = dict((current or {}).get("access", {}))
    if raw is None:
        return {"access": stored_access}
    if not isinstance(raw, dict):
        raise ValidationError([_error(loc, "options must be an object")])
    errors = [
        _error([*loc, key], f"unknown option {key!r}") for key in raw if key not in _KNOWN_OPTIONS
    ]
    access = raw.get("access") or {}
    if not isinstance(access, dict):
        errors.append(_error([*loc, "access"], "access must be an object"))
        access = {}
    for operation, rule in access.items():
        problem = _rule_problem(operation, rule)
        if problem:
            errors.append(_error([*loc, "access", operation], problem))
        else:
            stored_access[operation] = _normalized(rule)
    if errors:
        raise ValidationError(errors)
    return {"access": stored_access}


def _rule_problem(operation: str, rule: Any) -> str | None:
    if operation not in OPERATIONS:
        return f"unknown operation {operation!r} (use {', '.join(OPERATIONS)})"
    if not isinstance(rule, str) or not rule.strip():
        return "a rule is a preset (public, auth, owner, admin) or a SQL expression"
    if len(rule) > _MAX_RULE_LENGTH:
        return f"a rule may have at most {_MAX_RULE_LENGTH} characters"
    return None


def _normalized(rule: str) -> str:
    preset = rule.strip().lower()
    return preset if preset in _PRESETS else rule.strip()


_PRESETS = frozenset(rule.value for rule in AccessRule)


def access_rules(options: Mapping[str, Any]) -> dict[str, str]:
    """The rule of every operation, ``admin`` where none is set."""
    stored = options.get("access", {}) if options else {}
    return {operation: stored.get(operation, AccessRule.ADMIN.value) for operation in OPERATIONS}


def record_api_config(name: str, options: Mapping[str, Any]) -> RecordApiConfig:
    """The default record API of collection ``name`` under its ``options``."""
    world: set[Permission] = set()
    authenticated: set[Permission] = set()
    rules: dict[str, str | None] = {}
    for operation, rule in access_rules(options).items():
        permission = OPERATIONS[operation]
        if rule == AccessRule.PUBLIC:
            world.add(permission)
        if rule in (AccessRule.PUBLIC, AccessRule.AUTH, AccessRule.OWNER):
            authenticated.add(permission)
        if rule not in _PRESETS:
            world.add(permission)
            authenticated.add(permission)
        rules[operation] = _rule_sql(operation, rule)
    for acl in (world, authenticated):
        if Permission.READ in acl:
            acl.add(Permission.SCHEMA)
    return RecordApiConfig(
        name=name,
        table_name=name,
        acl_world=frozenset(world),
        acl_authenticated=frozenset(authenticated),
        list_access_rule=rules["list"],
        read_access_rule=rules["read"],
        create_access_rule=rules["create"],
        update_access_rule=rules["update"],
        delete_access_rule=rules["delete"],
        autofill_missing_user_id_columns=True,
        # Safe wherever someone may read: every event is checked against the read rule.
        enable_subscriptions=Permission.READ in world | authenticated,
    )


def _rule_sql(operation: str, rule: str) -> str | None:
    if rule == AccessRule.ADMIN:
        return None
    if rule == AccessRule.OWNER:
        if operation == "create":
            return _OWNER_REQUEST
        if operation == "update":
            return f"{_OWNER_ROW} AND {_OWNER_UNCHANGED}"
        return _OWNER_ROW
    if rule in (AccessRule.PUBLIC, AccessRule.AUTH):
        return _OWNER_GUARDS.get(operation)
    guard = _OWNER_GUARDS.get(operation)
    # The newline ends a trailing `-- comment` of the admin's rule before the guard.
    return rule if guard is None else f"({rule}\n) AND {guard}"


_OWNER_GUARDS = {"create": _NO_FOREIGN_OWNER, "update": _OWNER_UNCHANGED}


def allowed_operations(principal: Principal, config: RecordApiConfig) -> list[str]:
    """The operations ``principal`` may attempt (the rules still decide which rows)."""
    return [operation for operation in OPERATIONS if may(config, principal, operation)]


def may_see(principal: Principal, config: RecordApiConfig) -> bool:
    """Whether ``principal`` may see a collection exists (it may list or read some rows)."""
    if principal.is_admin:
        return True
    granted = set(config.acl_world)
    if principal.is_authenticated:
        granted |= config.acl_authenticated
    return bool(granted & {Permission.LIST, Permission.READ})


def _error(loc: Sequence[str], message: str) -> dict[str, Any]:
    return {"loc": list(loc), "msg": message, "type": "value_error"}
