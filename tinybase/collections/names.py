"""Which names a collection and its fields may take.

Collection names become table names and field names become column names. SQLAlchemy quotes
every identifier, but a table name that needs quoting is a trap for anyone writing SQL rules
or queries by hand, so reserved words cannot name a collection. Field names are always quoted
by TinyBase and may be words like ``order`` or ``key``.
"""

from __future__ import annotations

import re

__all__ = [
    "COLLECTION_NAME_PATTERN",
    "FIELD_NAME_PATTERN",
    "RESERVED_WORDS",
    "SYSTEM_COLUMNS",
    "collection_name_problem",
    "field_name_problem",
]

COLLECTION_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# A leading underscore marks a write-only column (accepted on writes, never returned).
FIELD_NAME_PATTERN = re.compile(r"^_?[a-z][a-z0-9_]{0,61}$")

#: Columns every collection table has; fields cannot take these names.
SYSTEM_COLUMNS = ("id", "owner_id", "created_at", "updated_at")

# SQL:2016, PostgreSQL and SQLite reserved words (the union, lower case).
RESERVED_WORDS = frozenset(
    """
    abort action add after all alter always analyze and any array as asc asymmetric attach
    authorization autoincrement before begin between binary both by cascade case cast check
    collate collation column commit concurrently conflict constraint create cross current
    current_catalog current_date current_role current_schema current_time current_timestamp
    current_user database default deferrable deferred delete desc detach distinct do drop each
    else end escape except exclude exclusive exists explain fail false fetch filter first
    following for foreign freeze from full generated glob grant group groups having if ignore
    ilike immediate in index indexed initially inner insert instead intersect into is isnull
    join key last lateral leading left like limit localtime localtimestamp match materialized
    natural no not nothing notnull null nulls of offset on only or order others outer over
    overlaps partition placing plan pragma preceding primary query raise range recursive
    references regexp reindex release rename replace restrict returning right rollback row
    rows savepoint select session_user similar some symmetric system_user table temp temporary
    then ties to trailing transaction trigger true unbounded union unique update user using
    vacuum values variadic verbose view virtual when where window with without
    """.split()  # noqa: SIM905 (a word list reads better as text)
)

# Prefixes that belong to the database engines' own catalogs.
_ENGINE_PREFIXES = ("sqlite_", "pg_")


def collection_name_problem(name: object) -> str | None:
    """Why ``name`` cannot name a collection, or None when it can."""
    if not isinstance(name, str) or not COLLECTION_NAME_PATTERN.fullmatch(name):
        return (
            f"invalid collection name {name!r}: use 1 to 63 lower-case letters, digits and "
            "underscores, starting with a letter"
        )
    if name in RESERVED_WORDS:
        return f"invalid collection name {name!r}: it is a reserved SQL word"
    if name.startswith(_ENGINE_PREFIXES):
        return f"invalid collection name {name!r}: the prefix is reserved by the database"
    return None


def field_name_problem(name: object) -> str | None:
    """Why ``name`` cannot name a field, or None when it can."""
    if not isinstance(name, str) or not FIELD_NAME_PATTERN.fullmatch(name):
        return (
            f"invalid field name {name!r}: use lower-case letters, digits and underscores, "
            "starting with a letter (or '_' then a letter for a write-only field)"
        )
    if name in SYSTEM_COLUMNS:
        return f"invalid field name {name!r}: it is a system column"
    return None
