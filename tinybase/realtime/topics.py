"""What a client may subscribe to, checked once when it subscribes (in a worker thread).

A topic is a record API's records (``posts``, TrailBase's ``subscribe/*``) or one record
(``posts/ID``), optionally with a filter in the list filter syntax. Subscribing asks what a
read would: the API exists (404), has subscriptions enabled (403), and the ACLs grant
``READ`` (401/403); for one record, the caller may read it now (404 otherwise: it does not
reveal that a hidden record exists). Every event is then checked again (:mod:`.checks`).
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

from tinybase.auth.principal import Principal
from tinybase.errors import BadRequestError, NotFoundError, PermissionDeniedError
from tinybase.realtime.matching import RowFilter, compile_filter
from tinybase.realtime.streams import Stream, Subscription
from tinybase.records.access import authorize
from tinybase.records.filters import FilterNode, parse_filters
from tinybase.records.keys import plain_id
from tinybase.records.registry import RecordApiRegistry
from tinybase.records.rules import Operation

__all__ = ["MAX_TOPIC_LENGTH", "Topic", "parse_topic", "resolve_topic"]

MAX_TOPIC_LENGTH = 2048


@dataclass(frozen=True)
class Topic:
    """A checked topic, ready to be bound to a stream."""

    api: str
    table: str
    topic: str
    record_id: str | None
    matches: RowFilter | None
    shape: str

    def bind(self, stream: Stream) -> Subscription:
        return Subscription(
            self.api, self.table, self.topic, self.record_id, self.matches, self.shape, stream
        )


def parse_topic(text: object) -> tuple[str, str | None, FilterNode | None]:
    """``api``, ``api/ID`` or either with ``?<filters>``: (api, record id, filter).

    Raises:
        BadRequestError: not a string, too long, or a malformed filter.
    """
    if not isinstance(text, str) or not text or len(text) > MAX_TOPIC_LENGTH:
        raise BadRequestError("a topic is 'collection', 'collection/ID' or either with ?filters")
    path, _, query = text.partition("?")
    api, _, record_id = path.partition("/")
    if not api or "/" in record_id or (path.endswith("/") and not record_id):
        raise BadRequestError(f"malformed topic: {text[:64]!r}")
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    return api, record_id or None, parse_filters(pairs) if pairs else None


def resolve_topic(
    registry: RecordApiRegistry,
    principal: Principal,
    *,
    api: str,
    record_id: str | None,
    filters: FilterNode | None,
    topic: str,
    shape: str,
) -> Topic:
    """Check that ``principal`` may subscribe (blocking: runs queries).

    Raises:
        NotFoundError: no such API, or (one record) no such record readable by the caller.
        PermissionDeniedError: subscriptions are disabled, or the ACLs deny reading.
        AuthenticationError: anonymous where signing in would help.
        BadRequestError: a bad filter (a hidden column, a value of the wrong type).
    """
    registered = registry.apis().get(api)
    if registered is None:
        raise NotFoundError(f"record API {api[:64]!r} not found")
    if not registered.config.enable_subscriptions:
        raise PermissionDeniedError(f"record API {api[:64]!r} has no subscriptions")
    engine = registered.engine
    key: str | None = None
    if record_id is not None:
        record = engine.read(principal, record_id)
        key = str(plain_id(record[engine.pk]))
    else:
        authorize(registered.config, principal, Operation.READ)
    matches = None
    if filters is not None and key is None:  # a record's topic ignores filters (TrailBase's)
        matches = compile_filter(
            filters, engine.resolver, case_insensitive_like=engine.db.dialect == "sqlite"
        )
    return Topic(api, registered.table.name, topic, key, matches, shape)
