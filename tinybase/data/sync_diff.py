"""What differs between a table as it is and as it should be (:func:`diff_table`).

The comparison behind :func:`tinybase.data.sync.sync_table`, shared by its dialect
modules (:mod:`.sync_sqlite` rebuilds, :mod:`.sync_postgresql` alters), which apply it.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from tinybase.data.errors import SchemaChangeError

__all__ = ["SchemaDiff", "constraint_columns", "diff_table", "normalize_sql", "type_key"]


@dataclass
class SchemaDiff:
    """What differs between the current table and the desired one."""

    added: list[sa.Column] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    retyped: list[str] = field(default_factory=list)
    renulled: list[str] = field(default_factory=list)
    redefaulted: list[str] = field(default_factory=list)
    constraints_to_drop: list[dict[str, Any]] = field(default_factory=list)
    constraints_to_add: list[sa.Constraint] = field(default_factory=list)

    @property
    def changed(self) -> list[str]:
        """Columns whose definition changed, in order, without duplicates."""
        return list(dict.fromkeys(self.retyped + self.renulled + self.redefaulted))


def diff_table(
    connection: sa.Connection,
    current: sa.Table,
    desired: sa.Table,
    drop_columns: Collection[str] = (),
) -> SchemaDiff:
    """Compare the reflected ``current`` table with ``desired``."""
    dialect = connection.dialect
    diff = SchemaDiff()
    for name in drop_columns:
        if name in desired.c:
            raise SchemaChangeError(
                f"{desired.name}.{name} is both desired and dropped",
                table=desired.name,
                column=name,
            )
        if name in current.c:
            if current.c[name].primary_key:
                raise SchemaChangeError(
                    f"cannot drop primary key column {desired.name}.{name}",
                    table=desired.name,
                    column=name,
                )
            diff.dropped.append(name)
    for column in desired.columns:
        if column.name not in current.c:
            diff.added.append(column)
            continue
        old = current.c[column.name]
        if type_key(old.type, dialect) != type_key(column.type, dialect):
            diff.retyped.append(column.name)
        if not column.primary_key and old.nullable != column.nullable:
            diff.renulled.append(column.name)
        if not column.primary_key and _default_key(old, dialect) != _default_key(column, dialect):
            diff.redefaulted.append(column.name)
    _diff_constraints(connection, current, desired, diff)
    return diff


# -- comparing types and defaults -----------------------------------------------------------

_TYPE_ALIASES = {
    "postgresql": {"FLOAT": "DOUBLE PRECISION", "DOUBLE": "DOUBLE PRECISION", "INT": "INTEGER"},
    "sqlite": {"INT": "INTEGER"},
}


def type_key(column_type: sa.types.TypeEngine, dialect: sa.Dialect) -> str:
    """A comparable spelling of a column type on ``dialect`` (aliases folded)."""
    try:
        spelled = column_type.compile(dialect=dialect)
    except sa.exc.CompileError:
        spelled = str(column_type)
    spelled = " ".join(spelled.upper().split())
    return _TYPE_ALIASES.get(dialect.name, {}).get(spelled, spelled)


def _default_key(column: sa.Column, dialect: sa.Dialect) -> str | None:
    default = column.server_default
    if default is None:
        return None
    argument = getattr(default, "arg", None)
    if isinstance(argument, str):
        text = "'" + argument.replace("'", "''") + "'"
    elif isinstance(argument, sa.ClauseElement):
        text = str(argument.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    else:
        return repr(default)
    return normalize_sql(text)


def normalize_sql(text: str) -> str:
    """Fold the cosmetic differences of reflected SQL (casts, parentheses, case, spaces)."""
    text = re.sub(r"::[a-z_ ]+(\[\])?", "", text.strip(), flags=re.IGNORECASE)
    text = "".join(text.lower().split())
    while text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
        text = text[1:-1]
    if re.fullmatch(r"'-?\d+(\.\d+)?'", text):
        text = text[1:-1]
    return text


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


# -- comparing constraints ------------------------------------------------------------------


def _diff_constraints(
    connection: sa.Connection, current: sa.Table, desired: sa.Table, diff: SchemaDiff
) -> None:
    inspector = sa.inspect(connection)
    gone = set(diff.dropped)
    reflected: list[tuple[set[tuple], dict[str, Any]]] = []
    for unique in inspector.get_unique_constraints(current.name):
        if not gone & set(unique["column_names"]):
            reflected.append(({("unique", tuple(unique["column_names"]))}, unique))
    for check in inspector.get_check_constraints(current.name):
        # A check matches by name, or by its SQL text when the desired one is unnamed.
        signatures = {_check_signature(check.get("name"), check["sqltext"])}
        signatures.add(_check_signature(None, check["sqltext"]))
        reflected.append((signatures, check))
    for foreign in inspector.get_foreign_keys(current.name):
        if not gone & set(foreign["constrained_columns"]):
            reflected.append(({_fk_signature_reflected(foreign)}, foreign))
    wanted = {_signature(c): c for c in _desired_constraints(desired)}
    present = set().union(*(signatures for signatures, _ in reflected)) if reflected else set()
    diff.constraints_to_drop = [c for sigs, c in reflected if not sigs & wanted.keys()]
    diff.constraints_to_add = [c for sig, c in wanted.items() if sig not in present]


def _desired_constraints(table: sa.Table) -> list[sa.Constraint]:
    found: list[sa.Constraint] = [
        c
        for c in table.constraints
        if isinstance(c, sa.UniqueConstraint | sa.CheckConstraint | sa.ForeignKeyConstraint)
    ]
    for column in table.columns:
        found.extend(c for c in column.constraints if isinstance(c, sa.CheckConstraint))
    return list(dict.fromkeys(found))


def _signature(constraint: sa.Constraint) -> tuple:
    if isinstance(constraint, sa.UniqueConstraint):
        return ("unique", tuple(column.name for column in constraint.columns))
    if isinstance(constraint, sa.CheckConstraint):
        name = constraint.name if isinstance(constraint.name, str) else None
        return _check_signature(name, str(constraint.sqltext))
    assert isinstance(constraint, sa.ForeignKeyConstraint)
    targets = [element.target_fullname.rsplit(".", 1) for element in constraint.elements]
    return (
        "fk",
        tuple(element.parent.name for element in constraint.elements),
        targets[0][0],
        tuple(target[1] for target in targets),
        _on_delete(constraint.ondelete),
    )


def _check_signature(name: str | None, sqltext: str) -> tuple:
    if name and not name.startswith("_unnamed"):
        return ("check", name)
    return ("check", normalize_sql(sqltext))


def _fk_signature_reflected(foreign: dict[str, Any]) -> tuple:
    return (
        "fk",
        tuple(foreign["constrained_columns"]),
        foreign["referred_table"],
        tuple(foreign["referred_columns"]),
        _on_delete((foreign.get("options") or {}).get("ondelete")),
    )


def _on_delete(value: str | None) -> str:
    return (value or "NO ACTION").upper()


def constraint_columns(constraint: Any) -> list[str]:
    """Column names of a desired constraint or of a reflected one (a dict)."""
    if isinstance(constraint, dict):
        names = constraint.get("column_names") or constraint.get("constrained_columns") or []
        return list(names)
    if isinstance(constraint, sa.ForeignKeyConstraint):
        return [element.parent.name for element in constraint.elements]
    columns = getattr(constraint, "columns", None)
    if columns is not None and len(columns):
        return [column.name for column in columns]
    parent = getattr(constraint, "parent", None)
    return [parent.name] if isinstance(parent, sa.Column) else []
