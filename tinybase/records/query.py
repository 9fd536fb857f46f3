"""A list request (filters, order, cursor, paging, expand, count) and its result."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tinybase.errors import BadRequestError
from tinybase.records.filters import FilterNode, parse_filters

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "MAX_OFFSET", "ListQuery", "ListResult"]

#: The page size when a request names none (TrailBase's; the collections family has its own).
DEFAULT_LIMIT = 50
#: The largest page any list gives (an API's ``listing_hard_limit`` may be lower).
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
        # The one check of the paging values, however the query was built (a query string,
        # Python code): a negative LIMIT would mean "no limit" to SQLite.
        if not 1 <= self.limit <= MAX_LIMIT:
            raise BadRequestError(f"limit must be between 1 and {MAX_LIMIT}")
        if not 0 <= self.offset <= MAX_OFFSET:
            raise BadRequestError(f"offset must be between 0 and {MAX_OFFSET}")

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
            # TrailBase's clients may ask for more than a page holds: they get a full page.
            limit=min(_integer(options, "limit", default_limit, 1), MAX_LIMIT),
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
