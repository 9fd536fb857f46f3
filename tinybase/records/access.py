"""Who may attempt an operation (ACLs), and the compiled rules that decide which rows.

ACLs are checked first and cheaply, in Python: ``acl_world`` grants to everyone,
``acl_authenticated`` to callers with a token. Admins (and ``SYSTEM``) bypass ACLs and rules.
The rules are then part of the statement itself (see :mod:`tinybase.records.engine`).

Statuses, chosen so a caller never learns that a row exists unless they may read it:
an ACL denial is 403, or 401 when the caller is anonymous and a signed-in user would be
allowed; a row hidden by the read rule is 404.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from tinybase.auth.principal import Principal
from tinybase.errors import AuthenticationError, PermissionDeniedError, ValidationError
from tinybase.records.config import Permission, RecordApiConfig
from tinybase.records.rules import ROW_ALIAS, CompiledRule, Operation, compile_rule

__all__ = ["OPERATION_PERMISSIONS", "authorize", "check_rules", "compile_rules", "may"]

OPERATION_PERMISSIONS: Mapping[str, Permission] = {
    Operation.CREATE: Permission.CREATE,
    Operation.READ: Permission.READ,
    Operation.LIST: Permission.LIST,
    Operation.UPDATE: Permission.UPDATE,
    Operation.DELETE: Permission.DELETE,
    Operation.SCHEMA: Permission.SCHEMA,
}


def may(api: RecordApiConfig, principal: Principal, operation: str) -> bool:
    """True when the ACLs let ``principal`` attempt ``operation`` (rules still apply)."""
    if principal.is_admin:
        return True
    permission = OPERATION_PERMISSIONS[operation]
    if permission in api.acl_world:
        return True
    return principal.is_authenticated and permission in api.acl_authenticated


def authorize(api: RecordApiConfig, principal: Principal, operation: str) -> bool:
    """Check the ACLs; return whether access rules apply (False for admins).

    Raises:
        AuthenticationError: anonymous caller where signing in would help.
        PermissionDeniedError: the ACLs deny the operation.
    """
    if principal.is_admin:
        return False
    if may(api, principal, operation):
        return True
    if not principal.is_authenticated and OPERATION_PERMISSIONS[operation] in (
        api.acl_authenticated
    ):
        raise AuthenticationError()
    raise PermissionDeniedError()


def compile_rules(
    api: RecordApiConfig, table: sa.Table, *, dialect: str
) -> dict[str, CompiledRule | None]:
    """Compile every rule of ``api`` over ``table``, keyed by operation.

    Raises:
        ValidationError: a misuse of ``_USER_``/``_ROW_``/``_REQ_`` in a rule.
    """
    columns = {column.name: column for column in table.columns}
    compiled: dict[str, CompiledRule | None] = {}
    for operation in OPERATION_PERMISSIONS:
        source = api.rule_for(operation)
        compiled[operation] = (
            None if source is None else compile_rule(source, operation, columns, dialect=dialect)
        )
    return compiled


def check_rules(
    connection: sa.Connection, table: sa.Table, rules: Mapping[str, CompiledRule | None]
) -> None:
    """Run every rule once against the database, so that a broken rule fails when saved.

    Each rule is evaluated in a ``SELECT ... LIMIT 0`` with NULL parameters, the way the
    engine embeds it (row rules over ``table AS _row_``). Nothing is written.

    Raises:
        ValidationError: naming the rule, with the database's error message.
    """
    row = table.alias(ROW_ALIAS)
    for operation, rule in rules.items():
        if rule is None:
            continue
        query = sa.select(sa.literal(1)).where(rule.clause).limit(0)
        if operation != Operation.CREATE:
            query = query.select_from(row)
        params: dict[str, Any] = rule.params(None, {})
        try:
            with connection.begin_nested():
                connection.execute(query, params)
        except sa.exc.DBAPIError as exc:
            message = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise ValidationError.for_field(f"{operation}_access_rule", message) from exc
