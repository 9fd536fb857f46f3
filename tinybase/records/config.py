"""The configuration of one record API: which table it exposes, to whom, and under which rules.

It mirrors TrailBase's ``record_apis`` entries. Each collection has a default API of the same
name (built from the collection's access presets); admins can define more, several per table
and over views.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from tinybase.errors import ValidationError

if TYPE_CHECKING:
    from tinybase.auth.principal import Principal

__all__ = ["ConflictResolution", "Permission", "RecordApiConfig", "RecordValidator"]


class RecordValidator(Protocol):
    """Checks a client's record values before every create and update of an API (and may
    refuse a delete), inside the write's transaction.

    Collections implement it with their field schema, so both HTTP families (and bulk creates
    and transactions) validate the same way. Records never import collections.

    ``server_columns`` are the columns only the server sets (left out of the Insert and
    Update JSON schemas). ``typed_columns`` are those whose values ``validate`` returns
    converted already (with :func:`tinybase.records.values.convert`): the engine does not
    convert them a second time.
    """

    server_columns: frozenset[str]
    typed_columns: frozenset[str]

    def validate(
        self, principal: Principal, values: Any, *, partial: bool, record_id: Any = None
    ) -> dict[str, Any]:
        """Return the values to store (typed, defaults filled when not ``partial``).

        Called inside the write's transaction; ``record_id`` is the key of the record an
        update changes (None for a create).

        Raises:
            tinybase.errors.ValidationError: a bad, missing or unknown field (named).
            tinybase.errors.TinyBaseError: the write is refused (a before-hook's answer).
        """
        ...

    def before_delete(self, principal: Principal, record_id: Any) -> None:
        """Called inside the transaction before record ``record_id`` is deleted; raises a
        ``TinyBaseError`` to refuse it."""
        ...


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
    # Not configuration data: set in code (collections attach their schema's validator).
    validator: RecordValidator | None = field(default=None, compare=False, repr=False)

    def rule_for(self, operation: str) -> str | None:
        """The access rule of an operation (``"create"``, ``"read"``, ``"list"`` ...)."""
        if operation == "list":
            return self.list_access_rule or self.read_access_rule
        return getattr(self, f"{operation}_access_rule")

    def normalized(self) -> RecordApiConfig:
        """TrailBase semantics: an ACL granting ``READ`` grants ``LIST`` too."""
        return replace(
            self,
            acl_world=_with_list(self.acl_world),
            acl_authenticated=_with_list(self.acl_authenticated),
        )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> RecordApiConfig:
        """Build a config from TrailBase-shaped data (``tinybase.toml``, the admin API).

        ACLs are lists of permission names; rules are strings or null.

        Raises:
            ValidationError: an unknown key, a missing name/table_name, a bad value (named).
        """
        unknown = set(data) - {f.name for f in fields(cls)} | ({"validator"} & set(data))
        if unknown:
            raise ValidationError.for_field(sorted(unknown)[0], "unknown record API option")
        values: dict[str, Any] = dict(data)
        for key in ("name", "table_name"):
            if not isinstance(values.get(key), str) or not values[key]:
                raise ValidationError.for_field(key, "required (a non-empty string)")
        for key in ("acl_world", "acl_authenticated"):
            values[key] = frozenset(_enum(Permission, key, item) for item in values.get(key) or ())
        for key in ("excluded_columns", "expand"):
            items = values.get(key) or ()
            if isinstance(items, str) or not all(isinstance(item, str) for item in items):
                raise ValidationError.for_field(key, "expected a list of column names")
            values[key] = tuple(items)
        if "conflict_resolution" in values:
            values["conflict_resolution"] = _enum(
                ConflictResolution, "conflict_resolution", values["conflict_resolution"]
            )
        for key in _RULE_KEYS:
            if values.get(key) is not None and not isinstance(values[key], str):
                raise ValidationError.for_field(key, "expected an SQL expression (a string)")
        limit = values.get("listing_hard_limit", 1024)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1024:
            raise ValidationError.for_field("listing_hard_limit", "expected 1..1024")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The config as plain JSON-ready data (the inverse of :meth:`from_mapping`)."""
        data = asdict(replace(self, validator=None))
        del data["validator"]
        for key in ("acl_world", "acl_authenticated"):
            data[key] = sorted(str(item) for item in data[key])
        data["conflict_resolution"] = str(self.conflict_resolution)
        data["excluded_columns"] = list(self.excluded_columns)
        data["expand"] = list(self.expand)
        return data


_RULE_KEYS = tuple(
    f"{op}_access_rule" for op in ("create", "read", "list", "update", "delete", "schema")
)


def _with_list(acl: frozenset[Permission]) -> frozenset[Permission]:
    return acl | {Permission.LIST} if Permission.READ in acl else acl


def _enum(enum: type[StrEnum], key: str, value: Any) -> Any:
    try:
        return enum(str(value).upper())
    except ValueError:
        raise ValidationError.for_field(key, f"unknown value {value!r}") from None
