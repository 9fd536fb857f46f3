"""Build row objects from driver tuples, cheaply: loaders only where a column needs one.

A :class:`RowBuilder` is made once per (row class, columns) and turns each fetched tuple into
an instance. When the columns are exactly the leading positional parameters of the class's
``__init__`` (the usual case: a dataclass whose fields are the table's columns), the instance
is made with one positional call, ``cls(*row)``, which is what hand-written code would do;
otherwise the values are passed by keyword.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

from tinybase.data.codecs import Loader, loader_for
from tinybase.data.rowclasses import class_fields
from tinybase.data.tableinfo import TableInfo

__all__ = ["RowBuilder"]


class RowBuilder:
    """Turns a row tuple of ``columns`` into an instance of ``cls``.

    Columns the class has no field for are set as attributes after construction, so no
    column is ever hidden from the caller. Rows may be longer than ``columns`` (extra key
    columns fetched for ``with_pk``); the extra values are ignored.
    """

    def __init__(self, cls: type, columns: tuple[str, ...], info: TableInfo) -> None:
        fields = class_fields(cls)
        dialect = info.dialect.name
        self.cls = cls
        self.columns = columns
        self.loaders: list[tuple[int, Loader]] = []
        for index, column in enumerate(columns):
            load = loader_for(info.kinds[column], dialect, fields.get(column))
            if load is not None:
                self.loaders.append((index, load))
        self.extras = tuple(column for column in columns if column not in fields)
        self.width = len(columns)
        #: The fastest function that gives the same object as :meth:`__call__`.
        self.build: Callable[[Sequence[Any]], Any] = self._compile(fields)

    def __call__(self, row: Sequence[Any]) -> Any:
        return self.build(row)

    def _compile(self, fields: dict[str, Any]) -> Callable[[Sequence[Any]], Any]:
        order = self._positional_order(fields)
        if order is None or self.extras:
            return self._build_by_keyword
        cls, width, loaders = self.cls, self.width, tuple(self.loaders)
        if order == list(range(width)):
            if not loaders:

                def build_plain(row: Sequence[Any]) -> Any:
                    return cls(*row) if len(row) == width else cls(*row[:width])

                return build_plain

            def build_loaded(row: Sequence[Any]) -> Any:
                values = list(row) if len(row) == width else list(row[:width])
                for index, load in loaders:
                    value = values[index]
                    if value is not None:
                        values[index] = load(value)
                return cls(*values)

            return build_loaded
        # Same, with the columns reordered into the parameters' order.
        positions = {column_index: i for i, column_index in enumerate(order)}
        moved = tuple((positions[index], load) for index, load in loaders)

        def build_reordered(row: Sequence[Any]) -> Any:
            values = [row[i] for i in order]
            for index, load in moved:
                value = values[index]
                if value is not None:
                    values[index] = load(value)
            return cls(*values)

        return build_reordered

    def _positional_order(self, fields: dict[str, Any]) -> list[int] | None:
        """Column indexes in ``__init__`` parameter order, when a positional call is the same
        as passing the fields by keyword (they are its leading positional-or-keyword
        parameters); else None."""
        names = {column for column in self.columns if column in fields}
        try:
            parameters = inspect.signature(self.cls).parameters.values()
        except (TypeError, ValueError):
            return None
        prefix: list[str] = []
        for parameter in parameters:
            if parameter.kind is not inspect.Parameter.POSITIONAL_OR_KEYWORD:
                break
            if parameter.name not in names:
                break
            prefix.append(parameter.name)
        if len(prefix) != len(names):
            return None
        return [self.columns.index(name) for name in prefix]

    def _build_by_keyword(self, row: Sequence[Any]) -> Any:
        values = list(row[: self.width]) if len(row) > self.width else list(row)
        for index, load in self.loaders:
            value = values[index]
            if value is not None:
                values[index] = load(value)
        record = dict(zip(self.columns, values, strict=True))
        if not self.extras:
            return self.cls(**record)
        extras = {name: record.pop(name) for name in self.extras}
        obj = self.cls(**record)
        for name, value in extras.items():
            setattr(obj, name, value)
        return obj
