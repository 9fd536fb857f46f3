"""Access rules: admin-written SQL boolean expressions compiled once into reusable fragments.

A rule may use:

- ``_USER_.id``: the caller's user id, NULL when anonymous (a bound parameter);
- ``_ROW_.<column>``: the target row (read, list, update, delete). Statements evaluate the
  rule inside ``SELECT ... FROM <table> AS _row_``, so sub-queries such as
  ``EXISTS(SELECT 1 FROM groups g WHERE g.member = _USER_.id AND g.grp = _ROW_.grp)``
  correlate with the target row;
- ``_REQ_.<field>``: the request's value for a column (create, update), NULL when absent,
  a bound parameter typed by the column;
- ``_REQ_FIELDS_``: the names of the fields in the request, as ``'x' IN _REQ_FIELDS_``
  (one parameter, a JSON array, expanded by the database: the statement's SQL is the same
  for every request, so it is compiled once).

Rules are trusted as code (only admins write them); everything a request contributes is a
bound parameter. The rewrite works on tokens, so string literals, quoted identifiers and
comments are never rewritten, and a ``:`` inside the rule can never become a parameter.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

from tinybase.errors import ValidationError

__all__ = [
    "REQ_FIELDS_PARAM",
    "ROW_ALIAS",
    "USER_PARAM",
    "CompiledRule",
    "Operation",
    "compile_rule",
]

ROW_ALIAS = "_row_"
USER_PARAM = "tb_user_id"
REQ_FIELDS_PARAM = "tb_req_fields"


class Operation:
    """The operations an access rule can guard."""

    CREATE = "create"
    READ = "read"
    LIST = "list"
    UPDATE = "update"
    DELETE = "delete"
    SCHEMA = "schema"


_ROW_OPERATIONS = frozenset({Operation.READ, Operation.LIST, Operation.UPDATE, Operation.DELETE})
_REQ_OPERATIONS = frozenset({Operation.CREATE, Operation.UPDATE})

_TOKEN = re.compile(
    r"""
      (?P<string>'(?:[^']|'')*')
    | (?P<quoted>"(?:[^"]|"")*")
    | (?P<line_comment>--[^\n]*)
    | (?P<block_comment>/\*.*?\*/)
    | (?P<magic>(?<![\w$."])(?:_REQ_FIELDS_|_USER_|_ROW_|_REQ_)(?![\w$]))
    | (?P<word>[A-Za-z_][\w$]*)
    | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL | re.IGNORECASE,
)
_MEMBER = re.compile(r'\s*\.\s*(?:(?P<plain>[A-Za-z_][\w$]*)|"(?P<quoted>(?:[^"]|"")*)")')


@dataclass(frozen=True)
class CompiledRule:
    """A rule ready to be embedded in statements.

    Attributes:
        clause: the boolean SQL fragment (``sa.text`` with typed bind parameters).
        request_fields: ``{column name: parameter name}`` for every ``_REQ_.<column>`` used.
        uses_request_fields: True when ``_REQ_FIELDS_`` appears.
        source: the rule as written.
    """

    clause: sa.TextClause
    request_fields: Mapping[str, str]
    uses_request_fields: bool
    source: str

    def params(
        self, user_id: str | None, request: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """The bound values of one evaluation: the caller and the request's values."""
        values: dict[str, Any] = {USER_PARAM: user_id}
        request = request or {}
        for column, param in self.request_fields.items():
            values[param] = request.get(column)
        if self.uses_request_fields:
            values[REQ_FIELDS_PARAM] = orjson.dumps(sorted(request)).decode()
        return values


def compile_rule(
    source: str, operation: str, columns: Mapping[str, sa.Column[Any]], *, dialect: str
) -> CompiledRule:
    """Compile a rule for one operation over a table's ``columns``.

    Args:
        source: the SQL boolean expression.
        operation: an :class:`Operation`; decides which of ``_ROW_``/``_REQ_`` are allowed.
        columns: the table's columns by name (``_REQ_.<field>`` must name one).
        dialect: ``"sqlite"`` or ``"postgresql"``; on PostgreSQL parameters are cast to their
            column's type so a NULL parameter still has a type.

    Raises:
        ValidationError: a misuse of ``_USER_``/``_ROW_``/``_REQ_`` (the database's own
            errors are found by :func:`tinybase.records.access.check_rules`).
    """
    if not source.strip():
        raise _rule_error(operation, "the rule is empty")
    pieces: list[str] = []
    request_fields: dict[str, str] = {}
    uses_fields = False
    binds: dict[str, sa.BindParameter[Any]] = {}
    for kind, text, member in _tokens(source, operation):
        if kind != "magic":
            # A colon is never a parameter marker in rule text (SQLAlchemy's escape).
            pieces.append(text.replace(":", "\\:"))
            continue
        magic = text.upper()
        if magic == "_USER_":
            if member != "id":
                raise _rule_error(operation, "_USER_ has only the field id")
            binds[USER_PARAM] = sa.bindparam(USER_PARAM, type_=sa.String)
            pieces.append(_param(USER_PARAM, "VARCHAR", dialect))
        elif magic == "_ROW_":
            if operation not in _ROW_OPERATIONS:
                raise _rule_error(operation, "_ROW_ is not available here")
            pieces.append(f"{ROW_ALIAS}.{_identifier(member)}")
        elif magic == "_REQ_":
            if operation not in _REQ_OPERATIONS:
                raise _rule_error(operation, "_REQ_ is not available here")
            column = columns.get(member)
            if column is None:
                raise _rule_error(operation, f"_REQ_.{member}: no such column")
            name = request_fields.setdefault(member, f"tb_req_{len(request_fields)}")
            binds[name] = sa.bindparam(name, type_=column.type)
            pieces.append(_param(name, _sql_type(column, dialect), dialect))
        else:
            if operation not in _REQ_OPERATIONS:
                raise _rule_error(operation, "_REQ_FIELDS_ is not available here")
            uses_fields = True
            binds[REQ_FIELDS_PARAM] = sa.bindparam(REQ_FIELDS_PARAM, type_=sa.String)
            pieces.append(_REQ_FIELDS_SQL[dialect])
    clause = sa.text("(" + "".join(pieces) + ")").bindparams(*binds.values())
    return CompiledRule(clause, request_fields, uses_fields, source)


def _tokens(source: str, operation: str) -> Iterator[tuple[str, str, str]]:
    """Yield ``(kind, text, member)``; for ``_USER_``/``_ROW_``/``_REQ_`` the member is the
    field after the dot, which is consumed."""
    position = 0
    while position < len(source):
        match = _TOKEN.match(source, position)
        assert match is not None  # the pattern's last branch matches any character
        kind = match.lastgroup or "other"
        position = match.end()
        if kind == "block_comment" or kind == "line_comment":
            yield "other", " ", ""
            continue
        text = match.group()
        if kind == "magic" and text.upper() != "_REQ_FIELDS_":
            member = _MEMBER.match(source, position)
            if member is None:
                raise _rule_error(operation, f"{text} must be followed by .<column>")
            position = member.end()
            plain = member.group("plain")
            name = plain if plain is not None else member.group("quoted").replace('""', '"')
            yield kind, text, name.lower() if text.upper() == "_USER_" else name
            continue
        if kind == "other" and (text in "'\"" or source.startswith("/*", match.start())):
            raise _rule_error(operation, "unterminated string, identifier or comment")
        yield kind, text, ""


def _identifier(name: str) -> str:
    """A column name as written, quoted when it is not a plain lower-case identifier."""
    if re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        return name
    return '"' + name.replace('"', '""') + '"'


_REQ_FIELDS_SQL = {
    "sqlite": f"(SELECT value FROM json_each(:{REQ_FIELDS_PARAM}))",
    "postgresql": f"(SELECT jsonb_array_elements_text(CAST(:{REQ_FIELDS_PARAM} AS jsonb)))",
}


def _param(name: str, sql_type: str, dialect: str) -> str:
    if dialect == "postgresql":
        return f"CAST(:{name} AS {sql_type})"
    return f":{name}"


def _sql_type(column: sa.Column[Any], dialect: str) -> str:
    if dialect != "postgresql":
        return ""
    from sqlalchemy.dialects import postgresql

    return column.type.compile(dialect=postgresql.dialect())


def _rule_error(operation: str, message: str) -> ValidationError:
    return ValidationError.for_field(f"{operation}_access_rule", message)
