"""A list request (filters, order, cursor, paging, expand, count) and its result."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tinybase.errors import BadRequestError
from tinybase.records.filters import FilterNode, parse_filters

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "ListQuery", "ListResult"]

DEFAULT_LIMIT = 50
MAX_LIMIT = 1024
MAX_OFFSET = 1_000_000


@dataclass(frozen=True, slots=True)
class ListQuery:
    """What a list asks for; build it from a query string with :meth:`from_params`."""

    filters: FilterNode | None = None
    order: str | None = None
    cursor: str | None = None
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    count: bool = False
    expand: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Also built in Python, not only from a query string: a negative LIMIT would mean
        # "no limit" to SQLite, past the API's listing_hard_limit.
        if self.limit < 1:
            raise BadRequestError("limit must be at least 1")
        if self.offset < 0:
            raise BadRequestError("offset must not be negative")

    @classmethod
    def from_params(
        cls, params: Iterable[tuple[str, str]], *, default_limit: int = DEFAULT_LIMIT
    ) -> ListQuery:
        """Parse a query string's (key, value) pairs (filters in both syntaxes).

        Raises:
            BadRequestError: a malformed parameter (named).
        """
        pairs = list(params)
        options: dict[str, str] = {}
        for key, value in pairs:
            if key in ("limit", "cursor", "offset", "order", "expand", "count"):
                if key in options:
                    raise BadRequestError(f"{key} given more than once")
                options[key] = value
        return cls(
            filters=parse_filters(pairs),
            order=options.get("order") or None,
            cursor=options.get("cursor") or None,
            limit=_integer(options, "limit", default_limit, 1),
            offset=_integer(options, "offset", 0, 0),
            count=options.get("count", "").lower() in ("true", "1", "yes"),
            expand=tuple(name.strip() for name in options.get("expand", "").split(",") if name),
        )


def _integer(options: dict[str, str], key: str, default: int, minimum: int) -> int:
    raw = options.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequestError(f"{key} must be an integer") from None
    if value < minimum or value > MAX_OFFSET:
        raise BadRequestError(f"{key} out of range")
    return value


@dataclass(slots=True)
class ListResult:
    """One page: plain dict records, the cursor after the last one, the count if asked."""

    records: list[dict[str, Any]]
    cursor: str | None = None
    total_count: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
