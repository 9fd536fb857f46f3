"""The MiniDataAPI :class:`Table`: get, call, insert, update, upsert, delete, xtra."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tinybase.data.codecs import dump_argument, python_type_for_kind
from tinybase.data.errors import DataError, InvalidDataError, NotFoundError
from tinybase.data.placeholders import translate_placeholders
from tinybase.data.rowclasses import UNSET, as_record, camel_case, make_dataclass
from tinybase.data.rows import RowBuilder
from tinybase.data.runner import StatementRunner
from tinybase.data.statements import Statements
from tinybase.data.tableinfo import CompiledStatement, TableInfo

if TYPE_CHECKING:
    from tinybase.data.database import Database

__all__ = ["Columns", "Table"]


class Columns:
    """``t.c``: the column names; ``t.c.name`` is the quoted identifier for SQL strings."""

    def __init__(self, info: TableInfo) -> None:
        self._info = info

    def __getattr__(self, name: str) -> str:
        if name.startswith("__") or name not in self._info.columns:
            raise AttributeError(f"table {self._info.name!r} has no column {name!r}")
        return '"' + name.replace('"', '""') + '"'

    def __iter__(self) -> Iterator[str]:
        return iter(self._info.columns)

    def __contains__(self, name: object) -> bool:
        return name in self._info.columns

    def __len__(self) -> int:
        return len(self._info.columns)

    def __repr__(self) -> str:
        return ", ".join(self._info.columns)


class Table:
    """One table of a :class:`~tinybase.data.Database`, following the MiniDataAPI.

    Rows are returned as instances of the table's row class (the class given to
    ``db.create``, else a dataclass generated from the columns). Every method runs in the
    caller's open ``db.write()`` transaction when there is one (through a SAVEPOINT, so a
    failed call leaves the transaction usable), and in its own transaction otherwise.
    """

    def __init__(self, db: Database, name: str, cls: type | None = None) -> None:
        self.db = db
        self.name = name
        self._info = db.table_info(name)
        self._statements = Statements(self._info)
        self._xtra: dict[str, Any] = {}
        # Hot-path caches, cleared when the row class or xtra changes: row builders by
        # columns, and the statement/builder of each call shape (see __call__).
        self._builders: dict[tuple[str, ...], Callable[[Sequence[Any]], Any]] = {}
        self._plans: dict[Any, _SelectPlan] = {}
        self._get_statement: CompiledStatement | None = None
        self.cls = cls
        pks = self._info.pks
        self._single_pk = self._info.dumpers[pks[0]] if len(pks) == 1 else None
        self._runner = StatementRunner(db, self._info)

    @property
    def cls(self) -> type | None:
        """The row class (None until one is needed: then :meth:`dataclass` makes one)."""
        return self._cls

    @cls.setter
    def cls(self, cls: type | None) -> None:
        self._cls = cls
        self._forget_plans()

    def _forget_plans(self) -> None:
        self._builders.clear()
        self._plans.clear()
        self._get_statement = None

    def __repr__(self) -> str:
        return f"<Table {self.name} ({', '.join(self._info.columns)})>"

    # -- description ----------------------------------------------------------------------

    @property
    def pks(self) -> list[str]:
        """The primary key column names."""
        return list(self._info.pks)

    @property
    def c(self) -> Columns:
        """The column names (``t.c.name`` gives the quoted identifier)."""
        return Columns(self._info)

    @property
    def columns(self) -> list[str]:
        """The column names, in table order."""
        return list(self._info.columns)

    def dataclass(self) -> type:
        """Generate a dataclass for the rows (all fields optional, default ``UNSET``).

        The class (named after the table, ``user`` -> ``User``) becomes the row class.
        """
        info = self._info
        fields = [(name, python_type_for_kind(info.kinds[name])) for name in info.columns]
        self.cls = make_dataclass(camel_case(self.name), fields)
        return self.cls

    def xtra(self, **values: Any) -> None:
        """Restrict this table object to rows whose columns equal ``values``.

        From then on every read, update, upsert and delete only sees matching rows, and
        inserts, updates and upserts force those values. ``None`` matches NULL. Filters only
        narrow: changing a value already set raises :class:`DataError`.
        """
        dumped = self._dump(values)
        for column, value in dumped.items():
            if column in self._xtra and self._xtra[column] != value:
                raise DataError(f"xtra({column}=...) is already set on this table object")
        self._xtra.update(dumped)
        self._forget_plans()

    # -- reads ----------------------------------------------------------------------------

    def __getitem__(self, key: Any) -> Any:
        """The row with primary key ``key`` (a value, or a list/tuple for compound keys).

        Raises:
            NotFoundError: no such row (or hidden by ``xtra``).
        """
        statement = self._get_statement
        if statement is None:
            statement = self._get_statement = self._statements.get(self._xtra)
        rows = self._runner.fetch(statement, statement.parameters(self._key_values(key)))
        if not rows:
            raise NotFoundError(f"{self.name}: no row with key {key!r}")
        return self._builder(self._info.columns)(rows[0])

    def get(self, key: Any, default: Any = UNSET) -> Any:
        """The row with primary key ``key``, or ``default`` (when given) if there is none."""
        try:
            return self[key]
        except NotFoundError:
            if default is UNSET:
                raise
            return default

    def __contains__(self, key: Any) -> bool:
        statement = self._statements.exists(self._xtra)
        return bool(self._runner.fetch(statement, statement.parameters(self._key_values(key))))

    def __call__(
        self,
        where: str | None = None,
        where_args: Sequence[Any] | None = None,
        order_by: str | Sequence[str] | None = None,
        limit: int | None = None,
        offset: int | None = None,
        *,
        select: str | Sequence[str] = "*",
        with_pk: bool = False,
    ) -> list[Any]:
        """Rows matching ``where`` (SQL with ``?`` placeholders bound to ``where_args``).

        Args:
            where: a SQL condition; values belong in ``where_args``, never in the string.
            where_args: the values of the ``?`` placeholders.
            order_by: column names, each optionally followed by ``asc``/``desc`` or prefixed
                with ``-``; without it rows come in insertion order on SQLite (and in
                primary key order on PostgreSQL for generated integer keys).
            limit: at most this many rows.
            offset: skip this many rows.
            select: the columns to fetch (the others are ``UNSET`` in the returned rows).
            with_pk: return ``(pk, row)`` pairs.

        Raises:
            InvalidDataError: unknown column, bad ``order_by`` or wrong number of arguments.
        """
        # The statement and row builder depend only on the shape of the call: cached.
        try:
            shape: Any = (where, order_by, limit is None, offset is None, select, with_pk)
            plan = self._plans.get(shape)
        except TypeError:  # order_by or select given as a list: not cached
            shape = plan = None
        if plan is None:
            plan = self._select_plan(where, order_by, limit, offset, select, with_pk)
            if shape is not None:
                if len(self._plans) >= 256:
                    self._plans.clear()
                self._plans[shape] = plan
        statement, build, key_indexes = plan
        values = self._where_values(where, where_args)
        if limit is not None or offset is not None:
            values.update(_limits(limit, offset))
        rows = self._runner.fetch(statement, statement.parameters(values))
        if key_indexes is None:
            return [build(row) for row in rows]
        return [(_key_of(row, key_indexes), build(row)) for row in rows]

    def _select_plan(
        self,
        where: str | None,
        order_by: str | Sequence[str] | None,
        limit: int | None,
        offset: int | None,
        select: str | Sequence[str],
        with_pk: bool,
    ) -> _SelectPlan:
        columns = self._select_columns(select)
        fetched = columns
        if with_pk:
            fetched += tuple(pk for pk in self._info.pks if pk not in columns)
        statement = self._statements.select(
            fetched, where, _order_terms(order_by, self._info), limit, offset, self._xtra
        )
        key_indexes = [fetched.index(pk) for pk in self._info.pks] if with_pk else None
        return statement, self._builder(columns), key_indexes

    def selectone(
        self,
        where: str | None = None,
        where_args: Sequence[Any] | None = None,
        *,
        select: str | Sequence[str] = "*",
    ) -> Any:
        """The one row matching ``where``.

        Raises:
            NotFoundError: no row matches.
            InvalidDataError: more than one row matches.
        """
        rows = self(where, where_args, limit=2, select=select)
        if not rows:
            raise NotFoundError(f"{self.name}: no row matches {where!r}")
        if len(rows) > 1:
            raise InvalidDataError(f"{self.name}: more than one row matches {where!r}")
        return rows[0]

    @property
    def count(self) -> int:
        """The number of rows (visible through ``xtra``)."""
        return self.count_where()

    def count_where(self, where: str | None = None, where_args: Sequence[Any] | None = None) -> int:
        """The number of rows matching ``where`` (and ``xtra``)."""
        statement = self._statements.count(where, self._xtra)
        values = self._where_values(where, where_args)
        return self._runner.fetch(statement, statement.parameters(values))[0][0]

    # -- writes ---------------------------------------------------------------------------

    def insert(self, record: Any = None, /, **fields: Any) -> Any:
        """Insert a row from a dataclass, an object, a dict or keyword arguments.

        ``UNSET`` fields are left out (so defaults apply); ``xtra`` values are forced.

        Returns:
            The stored row, defaults and generated keys included.
        """
        values = self._insert_values(as_record(record, fields))
        statement = self._statements.insert(tuple(values))
        if statement.sequential:
            parameters = tuple(values.values())
        else:
            parameters = statement.parameters(_named(values))
        rows = self._runner.write(statement, parameters, after=self._sequence_step(values))
        return self._builder(self._info.columns)(rows[0])

    def insert_all(self, records: Iterable[Any]) -> Table:
        """Insert many rows in one transaction. Returns the table."""
        with self.db.write():
            for record in records:
                self.insert(record)
        return self

    def update(self, record: Any = None, /, **fields: Any) -> Any:
        """Write the given fields of the row identified by the primary key in ``record``.

        Returns:
            The full stored row.

        Raises:
            NotFoundError: no such row (or hidden by ``xtra``); nothing is inserted.
            InvalidDataError: the primary key is missing, or a column or value is invalid.
        """
        values = self._dump(as_record(record, fields))
        key = self._key_from_record(values)
        changes = {
            column: value
            for column, value in values.items()
            if column not in self._info.pks and column not in self._xtra
        }
        if not changes:
            return self[key]
        statement = self._statements.update(tuple(changes), self._xtra)
        values = {**_named(changes), **self._key_params(key, dumped=True), **self._xtra_params()}
        rows = self._runner.write(statement, statement.parameters(values))
        if not rows:
            raise NotFoundError(f"{self.name}: no row with key {key!r}")
        return self._builder(self._info.columns)(rows[0])

    def upsert(self, record: Any = None, /, **fields: Any) -> Any:
        """Insert the row, or update the given fields when its primary key exists.

        Returns:
            The stored row.

        Raises:
            NotFoundError: the key exists but the row is hidden by ``xtra``.
        """
        values = self._insert_values(as_record(record, fields))
        if not all(pk in values for pk in self._info.pks):
            return self.insert(values)
        changes = tuple(c for c in values if c not in self._info.pks and c not in self._xtra)
        statement = self._statements.upsert(tuple(values), changes, self._xtra)
        values_and_xtra = {**_named(values), **self._xtra_params()}
        rows = self._runner.write(
            statement, statement.parameters(values_and_xtra), after=self._sequence_step(values)
        )
        if not rows:
            key = tuple(values[pk] for pk in self._info.pks)
            raise NotFoundError(f"{self.name}: no row with key {key!r}")
        return self._row(rows)

    def delete(self, key: Any) -> Table:
        """Delete the row with primary key ``key``. Returns the table.

        Raises:
            NotFoundError: no such row (or hidden by ``xtra``).
        """
        statement = self._statements.delete(self._xtra)
        parameters = statement.parameters(self._key_values(key))
        if self._runner.write(statement, parameters, rowcount=True) == 0:
            raise NotFoundError(f"{self.name}: no row with key {key!r}")
        return self

    def delete_where(
        self, where: str | None = None, where_args: Sequence[Any] | None = None
    ) -> int:
        """Delete the rows matching ``where`` (and ``xtra``). Returns how many were deleted."""
        statement = self._statements.delete_where(where, self._xtra)
        values = self._where_values(where, where_args)
        return self._runner.write(statement, statement.parameters(values), rowcount=True)

    def drop(self) -> None:
        """Drop the table.

        Raises:
            DataError: the table object is restricted by ``xtra``.
        """
        if self._xtra:
            raise DataError(f"{self.name}: cannot drop a table restricted by xtra")
        with self.db.write() as connection:
            self._info.table.drop(connection)
        self.db.forget(self.name)

    # -- internals ------------------------------------------------------------------------

    def _sequence_step(self, values: Mapping[str, Any]) -> Callable[[Any], None] | None:
        """After an explicit id on PostgreSQL, the step that moves the sequence past it
        (SQLite does so itself): None when there is nothing to move."""
        generated = self._info.generated_pk
        if generated is None or generated not in values or self._info.dialect.name == "sqlite":
            return None
        statement = self._statements.advance_sequence()
        parameters = {"table": self._info.table.name, "column": generated}
        parameters = statement.parameters({**parameters, "value": values[generated]})
        return lambda connection: self._runner.execute(connection, statement.sql, parameters)

    def _dump(self, record: Mapping[str, Any]) -> dict[str, Any]:
        dumpers = self._info.dumpers
        try:
            return {column: dumpers[column](value) for column, value in record.items()}
        except (KeyError, InvalidDataError):
            pass  # an unknown column or a bad value: found again below, to name it
        dumped = {}
        for column, value in record.items():
            dump = dumpers.get(column)
            if dump is None:
                raise InvalidDataError(f"table {self.name!r} has no column {column!r}")
            try:
                dumped[column] = dump(value)
            except InvalidDataError as exc:
                raise InvalidDataError(f"{self.name}.{column}: {exc}") from None
        return dumped

    def _insert_values(self, record: dict[str, Any]) -> dict[str, Any]:
        values = self._dump(record)
        values.update(self._xtra)
        generated = self._info.generated_pk
        if generated is not None and values.get(generated, 0) is None:
            del values[generated]
        return values

    def _key_tuple(self, key: Any) -> tuple[Any, ...]:
        pks = self._info.pks
        if not pks:
            raise InvalidDataError(f"table {self.name!r} has no primary key")
        if len(pks) == 1:
            if isinstance(key, list | tuple):
                if len(key) != 1:
                    raise InvalidDataError(f"{self.name}: expected 1 key value, got {key!r}")
                key = key[0]
            return (key,)
        if not isinstance(key, list | tuple) or len(key) != len(pks):
            raise InvalidDataError(f"{self.name}: expected {len(pks)} key values, got {key!r}")
        return tuple(key)

    def _key_params(self, key: Any, *, dumped: bool = False) -> dict[str, Any]:
        values = self._key_tuple(key)
        if not dumped:
            values = tuple(self._dump(dict(zip(self._info.pks, values, strict=True))).values())
        return {f"k{i}": value for i, value in enumerate(values)}

    def _key_values(self, key: Any) -> dict[str, Any]:
        if self._single_pk is not None and not isinstance(key, list | tuple):
            try:
                values = {"k0": self._single_pk(key)}
            except InvalidDataError as exc:
                raise InvalidDataError(f"{self.name}.{self._info.pks[0]}: {exc}") from None
        else:
            values = self._key_params(key)
        if self._xtra:
            values.update(self._xtra_params())
        return values

    def _key_from_record(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        missing = [pk for pk in self._info.pks if pk not in values]
        if missing or not self._info.pks:
            raise InvalidDataError(f"{self.name}: the record lacks its primary key {missing}")
        return tuple(values[pk] for pk in self._info.pks)

    def _xtra_params(self) -> dict[str, Any]:
        return {f"x{i}": value for i, value in enumerate(self._xtra.values()) if value is not None}

    def _where_values(self, where: str | None, where_args: Sequence[Any] | None) -> dict[str, Any]:
        values = self._xtra_params()
        if where is None:
            if where_args:
                raise InvalidDataError("where_args given without where")
            return values
        names = translate_placeholders(where, "w")[1]
        args = list(where_args or ())
        if len(args) != len(names):
            raise InvalidDataError(
                f"where has {len(names)} placeholder(s) but {len(args)} value(s) were given"
            )
        dialect = self._info.dialect.name
        values.update(zip(names, (dump_argument(arg, dialect) for arg in args), strict=True))
        return values

    def _select_columns(self, select: str | Sequence[str]) -> tuple[str, ...]:
        if select == "*":
            return self._info.columns
        names = [n.strip() for n in select.split(",")] if isinstance(select, str) else list(select)
        unknown = [name for name in names if name not in self._info.kinds]
        if unknown or not names:
            raise InvalidDataError(f"table {self.name!r} has no column(s) {unknown}")
        return tuple(names)

    def _builder(self, columns: tuple[str, ...]) -> Callable[[Sequence[Any]], Any]:
        build = self._builders.get(columns)
        if build is None:
            cls = self.cls if self.cls is not None else self.dataclass()
            build = RowBuilder(cls, columns, self._info).build
            self._builders[columns] = build
        return build

    def _row(self, rows: list[Any]) -> Any:
        return self._builder(self._info.columns)(rows[0])


#: (statement, row builder, indexes of the key columns for ``with_pk`` or None)
_SelectPlan = tuple[CompiledStatement, Callable[[Sequence[Any]], Any], list[int] | None]


def _key_of(row: Sequence[Any], indexes: list[int]) -> Any:
    return row[indexes[0]] if len(indexes) == 1 else tuple(row[i] for i in indexes)


def _named(values: Mapping[str, Any]) -> dict[str, Any]:
    return {f"v{i}": value for i, value in enumerate(values.values())}


def _limits(limit: int | None, offset: int | None) -> dict[str, int]:
    values = {}
    for name, value in (("lim", limit), ("off", offset)):
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise InvalidDataError(f"{name}it must be a non-negative int, got {value!r}")
        values[name] = value
    return values


def _order_terms(
    order_by: str | Sequence[str] | None, info: TableInfo
) -> tuple[tuple[str, bool], ...]:
    if order_by is None:
        return ()
    parts = order_by.split(",") if isinstance(order_by, str) else list(order_by)
    terms = []
    for part in parts:
        words = part.split()
        descending = False
        if len(words) == 2 and words[1].lower() in ("asc", "desc"):
            descending = words[1].lower() == "desc"
            words = words[:1]
        if len(words) != 1:
            raise InvalidDataError(f"bad order_by term {part!r}: use 'column [asc|desc]'")
        name = words[0]
        if name.startswith("-"):
            name, descending = name[1:], True
        if name not in info.kinds:
            raise InvalidDataError(f"table {info.name!r} has no column {name!r}")
        terms.append((name, descending))
    return tuple(terms)
