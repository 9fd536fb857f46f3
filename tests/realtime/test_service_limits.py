"""The service's bounds, on a real instance's registry and change stream (no server)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
import sqlalchemy as sa

from tinybase.api.responses import dumps
from tinybase.api.startup import build_state
from tinybase.api.state import AppState
from tinybase.auth.principal import ANONYMOUS, Principal
from tinybase.errors import RateLimitedError
from tinybase.realtime import RealtimeLimits, RealtimeService
from tinybase.realtime.framing import TrailBaseSse
from tinybase.realtime.matching import compile_filter
from tinybase.records.config import RecordApiConfig
from tinybase.records.engine import RecordEngine
from tinybase.records.filters import parse_filters
from tinybase.records.registry import reflect
from tinybase.settings import load_config


@pytest.fixture
def state(tmp_path: Path) -> Iterator[AppState]:
    instance = build_state(load_config(db_url=f"sqlite:///{tmp_path / 'limits.db'}"))
    try:
        yield instance
    finally:
        instance.close()


def _service(state: AppState, **limits: int) -> RealtimeService:
    return RealtimeService(
        state.record_apis,
        state.changes,
        limits=RealtimeLimits(**limits),
        shape_record=lambda _api, row: row,
        encode=dumps,
    )


def test_connections_overall_and_per_user_are_bounded(state: AppState) -> None:
    service = _service(state, max_connections=3, max_connections_per_user=2)
    alice, bob = (
        Principal("0190f3c0-0000-7000-8000-00000000000a"),
        Principal("0190f3c0-0000-7000-8000-00000000000b"),
    )
    first = service.open(alice, None, TrailBaseSse())
    service.open(alice, None, TrailBaseSse())
    with pytest.raises(RateLimitedError, match="for this user"):
        service.open(alice, None, TrailBaseSse())
    service.open(bob, None, TrailBaseSse())
    with pytest.raises(RateLimitedError, match="too many realtime connections; try again"):
        service.open(ANONYMOUS, None, TrailBaseSse())
    service.close(first)
    service.open(alice, None, TrailBaseSse())  # the slot was freed
    assert len(service.streams) == 3


def test_the_change_stream_is_listened_to_only_while_someone_subscribes(
    state: AppState,
) -> None:
    service = _service(state)
    stream = service.open(ANONYMOUS, None, TrailBaseSse())
    assert not state.changes.active_for("items")  # a stream without topics records nothing
    service.close(stream)
    assert not state.changes.active_for("items")


@pytest.fixture
def items(state: AppState) -> RecordEngine:
    """An engine over a table ``items`` (id, title, score)."""
    with state.db.write() as connection:
        connection.execute(
            sa.text("CREATE TABLE items (id INTEGER PRIMARY KEY, title TEXT, score INTEGER)")
        )
    with state.db.read() as connection:
        table, _ = reflect(connection, "items")
    return RecordEngine(state.db, RecordApiConfig(name="items", table_name="items"), table)


@pytest.mark.parametrize(
    ("query", "row", "expected"),
    [
        ("filter[title][$like]=a%25", {"title": "Abc"}, True),  # SQLite's LIKE ignores case
        ("filter[title][$like]=a_c", {"title": "abcd"}, False),  # LIKE matches the whole text
        ("filter[title][$re]=b.", {"title": "abc"}, True),  # like ~, a search
        ("filter[score][$gt]=5", {"score": None}, False),  # NULL compares false
        ("filter[score][$is]=NULL", {"score": None}, True),
        ("filter[$or][0][score]=1&filter[$or][1][score]=2", {"score": 2}, True),
        ("score[lte]=2", {"score": 3}, False),
    ],
)
def test_filters_match_rows_in_memory_as_sql_would(
    items: RecordEngine, query: str, row: dict[str, object], expected: bool
) -> None:
    node = parse_filters(parse_qsl(query))
    assert node is not None
    matches = compile_filter(node, items.resolver, case_insensitive_like=True)
    assert matches({"id": 1, "title": None, "score": None, **row}) is expected
