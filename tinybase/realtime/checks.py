"""Who may read an event's row: the API's read ACL and read rule, per subscriber.

The decision is a read's (:meth:`tinybase.records.engine.RecordEngine.read`): admins read
everything; otherwise the ACL must grant ``READ``, and the read rule, if any, must hold on
the row. The row is the event's own (after a create or update, before a delete), not a
fresh read of the table, so a delete reaches those who could read the row before it went
and a row that changed again since is judged as it was (TrailBase does the same).

Two ways to evaluate the rule, chosen once per API:

- **in memory**, for the owner rule ``_ROW_.<column> = _USER_.id`` (the ``owner`` preset's,
  and TrailBase's usual one): a comparison per subscriber, no query;
- **one query per event** otherwise: the rule, as compiled for the API's statements, is
  evaluated once for every distinct subscriber at once, over the row's values bound as
  parameters: ``SELECT _user_.id FROM (SELECT :u0 AS id UNION ALL ...) AS _user_,
  (SELECT :r0 AS col0, ...) AS _row_ WHERE <rule>``. Sub-queries of the rule (``EXISTS
  (SELECT ... WHERE g.grp = _ROW_.grp)``) correlate with that row as they do in a read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from tinybase.auth.principal import Principal
from tinybase.records.access import may
from tinybase.records.engine import RecordEngine
from tinybase.records.rules import ROW_ALIAS, USER_PARAM, Operation

__all__ = ["ReadCheck"]

USER_ALIAS = "_user_"
_OWNER_RULE = re.compile(
    r"^\s*\(?\s*(?:_ROW_\s*\.\s*(?P<a>[a-z_][a-z0-9_]*)\s*=\s*_USER_\s*\.\s*id"
    r"|_USER_\s*\.\s*id\s*=\s*_ROW_\s*\.\s*(?P<b>[a-z_][a-z0-9_]*))\s*\)?\s*$",
    re.IGNORECASE,
)
# The user parameter in a compiled rule's text (not an escaped "\:" of the rule's own text).
_USER_MARKER = re.compile(r"(?<![\\\w]):" + USER_PARAM + r"\b")


class ReadCheck:
    """Decides which principals may read the rows of one API's events.

    Args:
        engine: the API's record engine (its config, compiled read rule and table).
    """

    def __init__(self, engine: RecordEngine) -> None:
        self.engine = engine
        rule = engine.rules[Operation.READ]
        self.owner_column: str | None = None
        self._clause: sa.TextClause | None = None
        if rule is not None:
            match = _OWNER_RULE.match(rule.source)
            column = match and (match.group("a") or match.group("b"))
            if column and column in engine.table.c:
                self.owner_column = column
            else:
                self._clause = sa.text(_USER_MARKER.sub(f"{USER_ALIAS}.id", rule.clause.text))

    @property
    def in_memory(self) -> bool:
        """Whether no query is ever needed (no rule, or an owner rule)."""
        return self._clause is None

    def readers(self, principals: Iterable[Principal], row: Mapping[str, Any]) -> set[Principal]:
        """The principals among ``principals`` who may read ``row`` (at most one query)."""
        allowed: set[Principal] = set()
        pending: set[Principal] = set()
        api = self.engine.api
        for principal in principals:
            if principal.is_admin:
                allowed.add(principal)
            elif not may(api, principal, Operation.READ):
                continue
            elif self.owner_column is not None:
                owner = row.get(self.owner_column)
                if owner is not None and str(owner) == principal.user_id:
                    allowed.add(principal)
            elif self._clause is None:
                allowed.add(principal)
            else:
                pending.add(principal)
        if pending:
            users = self._users_reading({p.user_id for p in pending}, row)
            allowed.update(p for p in pending if p.user_id in users)
        return allowed

    def _users_reading(self, user_ids: set[str | None], row: Mapping[str, Any]) -> set[Any]:
        """The user ids among ``user_ids`` for whom the rule holds on ``row`` (one query)."""
        assert self._clause is not None
        postgres = self.engine.db.dialect == "postgresql"
        users = sa.union_all(
            *(sa.select(sa.literal(user, sa.String).label("id")) for user in sorted_ids(user_ids))
        ).subquery(USER_ALIAS)
        values = []
        for column in self.engine.table.columns:
            bind = sa.literal(row.get(column.name), column.type)
            values.append((sa.cast(bind, column.type) if postgres else bind).label(column.name))
        row_table = sa.select(*values).subquery(ROW_ALIAS)
        query = sa.select(users.c.id).select_from(users, row_table).where(self._clause)
        with self.engine.db.read() as connection:
            return set(connection.execute(query).scalars())


def sorted_ids(user_ids: set[str | None]) -> list[str | None]:
    """Ids in a stable order (None first), so equal sets give equal statements."""
    return sorted(user_ids, key=lambda user: (user is not None, user or ""))
