"""Turn caller SQL with ``?`` placeholders into SQLAlchemy text clauses with bound parameters.

Only a ``?`` outside string literals, quoted identifiers and comments is a placeholder, and
every ``:`` is escaped so that SQLAlchemy never mistakes text for a named parameter. The
values are always bound, never written into the SQL.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from tinybase.data.errors import InvalidDataError

__all__ = ["to_text_clause", "translate_placeholders"]


@functools.lru_cache(maxsize=512)
def translate_placeholders(sql: str, prefix: str = "p") -> tuple[str, tuple[str, ...]]:
    """Rewrite ``?`` placeholders as ``:{prefix}{n}`` names for :func:`sqlalchemy.text`.

    Returns:
        The rewritten SQL and the parameter names in order (cached: callers repeat their SQL).
    """
    out: list[str] = []
    names: list[str] = []
    i, length = 0, len(sql)
    while i < length:
        char = sql[i]
        if char in "'\"":
            end = _end_of_quoted(sql, i, char)
            out.append(sql[i:end].replace(":", "\\:"))
            i = end
            continue
        if sql.startswith("--", i) or sql.startswith("/*", i):
            end = _end_of_comment(sql, i)
            out.append(sql[i:end].replace(":", "\\:"))
            i = end
            continue
        if char == "?":
            names.append(f"{prefix}{len(names)}")
            out.append(f":{names[-1]}")
        elif char == ":":
            out.append("\\:")
        else:
            out.append(char)
        i += 1
    return "".join(out), tuple(names)


def _end_of_quoted(sql: str, start: int, quote: str) -> int:
    i = start + 1
    while True:
        i = sql.find(quote, i)
        if i == -1:
            raise InvalidDataError(f"unterminated {quote} in SQL: {sql!r}")
        if sql.startswith(quote * 2, i):  # an escaped quote inside the literal
            i += 2
            continue
        return i + 1


def _end_of_comment(sql: str, start: int) -> int:
    if sql.startswith("--", start):
        end = sql.find("\n", start)
        return len(sql) if end == -1 else end
    end = sql.find("*/", start + 2)
    return len(sql) if end == -1 else end + 2


def to_text_clause(
    sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None, prefix: str = "p"
) -> sa.TextClause:
    """Build a bound :class:`sqlalchemy.TextClause` from ``?`` SQL and a sequence of values.

    A mapping of ``params`` means the SQL uses ``:name`` placeholders and is passed as is.

    Raises:
        InvalidDataError: the number of ``?`` and of values differ.
    """
    if isinstance(params, Mapping):
        return sa.text(sql).bindparams(**params)
    text, names = translate_placeholders(sql, prefix)
    values = list(params or ())
    if len(values) != len(names):
        raise InvalidDataError(
            f"the SQL has {len(names)} placeholder(s) but {len(values)} value(s) were given"
        )
    return sa.text(text).bindparams(**dict(zip(names, values, strict=True)))
