"""Build row objects from driver tuples, cheaply: loaders only where a column needs one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tinybase.data.codecs import Loader, loader_for
from tinybase.data.records import class_fields
from tinybase.data.tableinfo import TableInfo

__all__ = ["RowBuilder"]


class RowBuilder:
    """Turns a row tuple of ``columns`` into an instance of ``cls``.

    Columns the class has no field for are set as attributes after construction, so no
    column is ever hidden from the caller.
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

    def __call__(self, row: Sequence[Any]) -> Any:
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
