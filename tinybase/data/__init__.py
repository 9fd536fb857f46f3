"""``tinybase.data``: the MiniDataAPI on SQLite and PostgreSQL, over SQLAlchemy Core.

>>> from tinybase.data import database
>>> db = database(":memory:")
>>> class User: name: str; email: str; year_started: int
>>> users = db.create(User, pk="name")
>>> users.insert(name="Alma", email="alma@example.com", year_started=2019)
User(name='Alma', email='alma@example.com', year_started=2019)

The bottom layer of TinyBase: it imports nothing from the other TinyBase packages.
"""

from tinybase.data.database import Database, database
from tinybase.data.engine import create_engine
from tinybase.data.errors import (
    DatabaseBusyError,
    DataError,
    InvalidDataError,
    NotFoundError,
    SchemaChangeError,
)
from tinybase.data.rowclasses import UNSET
from tinybase.data.sync import sync_table
from tinybase.data.table import Table

__all__ = [
    "UNSET",
    "DataError",
    "Database",
    "DatabaseBusyError",
    "InvalidDataError",
    "NotFoundError",
    "SchemaChangeError",
    "Table",
    "create_engine",
    "database",
    "sync_table",
]
