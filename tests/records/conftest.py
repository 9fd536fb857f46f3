"""Fixtures for the record engine: plain SQLAlchemy tables on ``raw_db`` (both dialects)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from tests.records.helpers import MakeEngine, Schema
from tinybase.auth.principal import Principal
from tinybase.data.database import Database
from tinybase.db.types import UTCDateTime
from tinybase.records.config import RecordApiConfig
from tinybase.records.engine import RecordEngine
from tinybase.utils import uuid7


def build_schema() -> Schema:
    metadata = sa.MetaData()
    user = sa.Table(
        "_user",
        metadata,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
    )
    items = sa.Table(
        "items",
        metadata,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("owner_id", sa.String(36), sa.ForeignKey("_user.id"), nullable=True),
        sa.Column("title", sa.String(200), nullable=True),
        sa.Column("score", sa.Integer, nullable=True),
        sa.Column("rank", sa.Float, nullable=True),
        sa.Column("done", sa.Boolean, nullable=True),
        sa.Column("grp", sa.String(50), nullable=True),
        sa.Column("meta", sa.JSON, nullable=True),
        sa.Column("due", UTCDateTime, nullable=True),
        sa.Column("_secret", sa.String(100), nullable=True),
        sa.Column("hidden", sa.String(100), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("title", name="uq_items_title"),
    )
    groups = sa.Table(
        "groups",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("member", sa.String(36), nullable=False),
        sa.Column("grp", sa.String(50), nullable=False),
    )
    notes = sa.Table(
        "notes",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("item_id", sa.String(36), sa.ForeignKey("items.id"), nullable=True),
        sa.Column("author", sa.String(36), sa.ForeignKey("_user.id"), nullable=True),
    )
    tags = sa.Table(
        "tags",
        metadata,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(50), nullable=False),
    )
    return Schema(metadata, user, items, groups, notes, tags)


@pytest.fixture
def schema(raw_db: Database) -> Schema:
    schema = build_schema()
    with raw_db.write() as connection:
        schema.metadata.create_all(connection)
    return schema


@pytest.fixture
def users(raw_db: Database, schema: Schema) -> dict[str, Principal]:
    """Three users alice, bob and carol, as principals."""
    principals = {
        name: Principal(user_id=str(uuid7()), email=f"{name}@x.io")
        for name in ("alice", "bob", "carol")
    }
    with raw_db.write() as connection:
        for principal in principals.values():
            connection.execute(
                schema.user.insert().values(id=principal.user_id, email=principal.email)
            )
    return principals


@pytest.fixture
def make_engine(raw_db: Database, schema: Schema) -> MakeEngine:
    """Build an engine over one of the schema's tables: ``make_engine("items", acl_world=...)``."""
    engines: dict[str, RecordEngine] = {}

    def make(table: str = "items", **options: Any) -> RecordEngine:
        options.setdefault("name", table)
        config = RecordApiConfig(table_name=table, **options)
        engine = RecordEngine(
            raw_db, config, schema.metadata.tables[table], expand_lookup=engines.get
        )
        engines[table] = engine
        return engine

    return make
