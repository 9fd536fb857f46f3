"""The configuration of one record API: which table it exposes, to whom, and under which rules.

It mirrors TrailBase's ``record_apis`` entries. Each collection has a default API of the same
name (built from the collection's access presets); admins can define more, several per table
and over views.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["ConflictResolution", "Permission", "RecordApiConfig"]


class Permission(StrEnum):
    """An operation an ACL can grant.

    ``LIST`` is TinyBase's own: TrailBase's ``READ`` covers reading one record and listing.
    A TrailBase-shaped config that grants ``READ`` grants ``LIST`` too (see ``normalized``);
    collections' presets set the two separately.
    """

    CREATE = "CREATE"
    READ = "READ"
    LIST = "LIST"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    SCHEMA = "SCHEMA"


class ConflictResolution(StrEnum):
    """What a create does when the new record collides with an existing one."""

    ABORT = "ABORT"
    IGNORE = "IGNORE"
    REPLACE = "REPLACE"


@dataclass(frozen=True)
class RecordApiConfig:
    """One record API. Rules are SQL boolean expressions; ``None`` means no rule beyond ACLs.

    ``list_access_rule`` is TinyBase's own and defaults to ``read_access_rule``.
    """

    name: str
    table_name: str
    acl_world: frozenset[Permission] = frozenset()
    acl_authenticated: frozenset[Permission] = frozenset()
    create_access_rule: str | None = None
    read_access_rule: str | None = None
    list_access_rule: str | None = None
    update_access_rule: str | None = None
    delete_access_rule: str | None = None
    schema_access_rule: str | None = None
    conflict_resolution: ConflictResolution = ConflictResolution.ABORT
    autofill_missing_user_id_columns: bool = False
    excluded_columns: tuple[str, ...] = ()
    expand: tuple[str, ...] = ()
    enable_subscriptions: bool = False
    listing_hard_limit: int = 1024
