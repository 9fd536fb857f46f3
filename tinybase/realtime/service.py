"""The realtime service: streams, their subscriptions, and the fan-out of every event.

Flow of one change (see ARCHITECTURE.md "How a change flows"):

1. the record engine commits; the :class:`~tinybase.records.changes.ChangeStream` calls
   :meth:`RealtimeService._on_change` in the writing thread, which only hands the event to
   the event loop (``call_soon_threadsafe``) and, across processes, to the relay;
2. the dispatcher (:meth:`RealtimeService.run`, a background task of the app) takes the
   waiting events in commit order and routes them in a worker thread (the registry lookup
   and rule queries block): for each API over the table, the subscriptions whose topic and
   filter match, then :class:`~tinybase.realtime.checks.ReadCheck` for who may read it
   (in memory, or one query per event and API), the row shaped and encoded once per shape;
3. back on the loop, each stream gets its frames (bounded queues, never blocking).

Engines record changes only while someone listens (a read of the row before each update
and delete): the service subscribes to the change stream while it has at least one
subscription. With a relay (several processes) it subscribes for good: whether another
process has subscribers cannot be known at write time without a race, so every process
publishes its changes (the cost is measured in docs/performance.md).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import anyio.to_thread

from tinybase.auth.principal import Principal
from tinybase.errors import RateLimitedError
from tinybase.realtime.checks import ReadCheck
from tinybase.realtime.events import Event, typed_row
from tinybase.realtime.framing import ERROR_FORBIDDEN, Framing
from tinybase.realtime.streams import Stream, Subscription
from tinybase.records.changes import ChangeStream, RecordChange
from tinybase.records.engine import RecordEngine
from tinybase.records.registry import RecordApiRegistry

__all__ = ["EventRelay", "RealtimeLimits", "RealtimeService"]

logger = logging.getLogger(__name__)

# Events waiting for the dispatcher; past this it is hopelessly behind: every stream is
# told it lost events and ends (the clients reconnect), rather than memory growing.
MAX_BACKLOG = 50_000
# How long what the router learnt of an API's rule may be used to skip events on the loop
# (the registry itself sees another process's API changes within its poll, 2 s).
HINT_SECONDS = 2.0

Shaper = Callable[[str, dict[str, Any]], dict[str, Any]]
"""Turns an API's readable row into the collections family's record (api name, row)."""


class EventRelay(Protocol):
    """Carries events between the processes serving one database."""

    def publish(self, event: Event) -> None:
        """Send an event of this process to the others (called in the writing thread)."""
        ...

    async def run(self, deliver: Callable[[list[Event]], None]) -> None:
        """Until cancelled: pass the other processes' events to ``deliver``, in order."""
        ...


@dataclass(frozen=True)
class RealtimeLimits:
    """The bounds of one process's realtime connections."""

    heartbeat_seconds: float = 15.0
    queue_size: int = 256
    max_connections: int = 10_000
    max_connections_per_user: int = 20


@dataclass(frozen=True)
class _ApiIndex:
    """The subscriptions of one API over one table, as the router looks them up."""

    by_record: dict[str, tuple[Subscription, ...]]
    table_wide: tuple[Subscription, ...]
    admins: tuple[Subscription, ...]  # table-wide, of admins
    by_user: dict[str | None, tuple[Subscription, ...]]  # table-wide, of the others


def _index(subscriptions: Iterable[Subscription]) -> dict[str, _ApiIndex]:
    grouped: dict[str, list[Subscription]] = {}
    for subscription in subscriptions:
        grouped.setdefault(subscription.api, []).append(subscription)
    return {api: _api_index(group) for api, group in grouped.items()}


def _api_index(subscriptions: list[Subscription]) -> _ApiIndex:
    by_record: dict[str, list[Subscription]] = {}
    by_user: dict[str | None, list[Subscription]] = {}
    wide, admins = [], []
    for subscription in subscriptions:
        if subscription.record_id is not None:
            by_record.setdefault(subscription.record_id, []).append(subscription)
            continue
        wide.append(subscription)
        if subscription.principal.is_admin:
            admins.append(subscription)
        else:
            by_user.setdefault(subscription.principal.user_id, []).append(subscription)
    return _ApiIndex(
        {key: tuple(group) for key, group in by_record.items()},
        tuple(wide),
        tuple(admins),
        {key: tuple(group) for key, group in by_user.items()},
    )


@dataclass(frozen=True)
class _Delivery:
    subscription: Subscription
    operation: Any
    body: bytes | None  # None: the record is no longer readable (the topic ends)


class RealtimeService:
    """Realtime for one app: stream bookkeeping (event loop only) and the fan-out.

    Args:
        registry: the record APIs (their engines, rules, configs).
        changes: the instance's change stream.
        limits: connection limits, heartbeat and queue size.
        shape_record: the collections family's record shape (``record`` topics).
        encode: JSON encoding of records (the API's, so events read like its answers).
        relay: how events reach other processes (None: one process).
    """

    def __init__(
        self,
        registry: RecordApiRegistry,
        changes: ChangeStream,
        *,
        limits: RealtimeLimits,
        shape_record: Shaper,
        encode: Callable[[Any], bytes],
        relay: EventRelay | None = None,
    ) -> None:
        self.registry = registry
        self.changes = changes
        self.limits = limits
        self.shape_record = shape_record
        self.encode = encode
        self.relay = relay
        self.origin = uuid.uuid4().hex
        self.streams: set[Stream] = set()
        self.clients: dict[str, Stream] = {}
        self._per_user: collections.Counter[str] = collections.Counter()
        self._by_table: dict[str, tuple[Subscription, ...]] = {}
        self._index: dict[str, dict[str, _ApiIndex]] = {}  # by table, then API
        self._checks: dict[int, tuple[RecordEngine, ReadCheck]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._incoming: asyncio.Queue[Event] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._handed: collections.deque[Event] = collections.deque()
        self._handing = threading.Lock()
        self._drain_scheduled = False
        # API name -> (when learnt, the owner column of its owner rule or None), from the
        # router: lets the loop skip events no subscriber can read without a thread hop.
        self._owner_hints: dict[str, tuple[float, str | None]] = {}

    # -- streams (event loop) ---------------------------------------------------------------

    def open(self, principal: Principal, expires_at: float | None, framing: Framing) -> Stream:
        """A new stream for ``principal``.

        Raises:
            RateLimitedError: this process has ``max_connections`` streams, or the user
                ``max_connections_per_user``.
        """
        self._check_limits(principal)
        stream = Stream(principal, expires_at, framing, capacity=self.limits.queue_size)
        self.streams.add(stream)
        if principal.user_id is not None:
            self._per_user[principal.user_id] += 1
        return stream

    def _check_limits(self, principal: Principal, *, opening: bool = True) -> None:
        if opening and len(self.streams) >= self.limits.max_connections:
            raise RateLimitedError("too many realtime connections; try again later")
        user = principal.user_id
        if user is not None and self._per_user[user] >= self.limits.max_connections_per_user:
            raise RateLimitedError("too many realtime connections for this user")

    def set_principal(self, stream: Stream, principal: Principal, expires_at: float | None) -> None:
        """Make ``principal`` the caller of ``stream`` (a TinyBase client's subscribe).

        Raises:
            RateLimitedError: the user has ``max_connections_per_user`` streams already.
        """
        if principal.user_id != stream.principal.user_id:
            self._check_limits(principal, opening=False)
            self._forget_user(stream)
            if principal.user_id is not None:
                self._per_user[principal.user_id] += 1
        stream.renew(principal, expires_at)
        self.replace(stream, stream.subscriptions)  # the router indexes topics by user

    def close(self, stream: Stream) -> None:
        """Forget a stream that ended (its client went, or the server ended it)."""
        if stream not in self.streams:
            return
        self.streams.discard(stream)
        self._forget_user(stream)
        if stream.client_id is not None:
            self.clients.pop(stream.client_id, None)
        self.replace(stream, [])
        stream.end(None)

    def _forget_user(self, stream: Stream) -> None:
        user = stream.principal.user_id
        if user is not None:
            self._per_user[user] -= 1
            if self._per_user[user] <= 0:
                del self._per_user[user]

    def replace(self, stream: Stream, subscriptions: Sequence[Subscription]) -> None:
        """Make ``subscriptions`` the stream's only ones (registered before this returns)."""
        old = set(stream.subscriptions)
        stream.subscriptions = list(subscriptions)
        tables = {s.table for s in old} | {s.table for s in subscriptions}
        for table in tables:
            kept = tuple(s for s in self._by_table.get(table, ()) if s not in old)
            added = tuple(s for s in subscriptions if s.table == table)
            if kept or added:
                self._by_table[table] = kept + added
                # A new object, never changed: the router works on a snapshot.
                self._index = {**self._index, table: _index(self._by_table[table])}
            else:
                self._by_table.pop(table, None)
                self._index = {name: i for name, i in self._index.items() if name != table}
        self._listen(bool(self._by_table) or self.relay is not None)

    def _listen(self, wanted: bool) -> None:
        if wanted and self._unsubscribe is None:
            self._unsubscribe = self.changes.subscribe(self._on_change)
        elif not wanted and self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    # -- events in ------------------------------------------------------------------------

    def _on_change(self, change: RecordChange) -> None:
        """In the writing thread, right after the commit: hand the event on, nothing more."""
        event = Event.of(change, self.origin)
        if self.relay is not None:
            self.relay.publish(event)
        loop = self._loop
        if loop is None or change.table not in self._index:
            return
        # One wake-up of the loop for however many events arrive meanwhile (under load
        # the writer commits groups of them): a wake-up costs more than a deque append.
        self._handed.append(event)
        with self._handing:
            if self._drain_scheduled:
                return
            self._drain_scheduled = True
        loop.call_soon_threadsafe(self._take_handed)

    def _take_handed(self) -> None:
        """On the loop: move the events the writing threads handed over to the dispatcher."""
        with self._handing:
            self._drain_scheduled = False
        incoming = self._incoming
        while self._handed:
            event = self._handed.popleft()
            if incoming is not None:
                incoming.put_nowait(event)

    def deliver_remote(self, events: list[Event]) -> None:
        """Events of other processes (on the loop, from the relay), in their commit order."""
        if self._incoming is not None and self._by_table:
            for event in events:
                if event.origin != self.origin:
                    self._incoming.put_nowait(event)

    async def run(self) -> None:
        """The dispatcher (and the relay's listener): until cancelled."""
        self._loop = asyncio.get_running_loop()
        self._incoming = asyncio.Queue()
        if self.relay is not None:
            self._listen(True)
        try:
            async with anyio.create_task_group() as tasks:
                if self.relay is not None:
                    tasks.start_soon(self.relay.run, self.deliver_remote)
                tasks.start_soon(self._dispatch)
        finally:
            self._listen(False)
            for stream in list(self.streams):
                stream.end(None)

    async def _dispatch(self) -> None:
        incoming = self._incoming
        assert incoming is not None
        while True:
            events = [await incoming.get()]
            while not incoming.empty():
                events.append(incoming.get_nowait())
            if len(events) > MAX_BACKLOG:
                self._drop_everyone()
                continue
            index = self._index
            events = [event for event in events if self._may_reach_anyone(event, index)]
            if not events:
                continue
            try:
                deliveries = await anyio.to_thread.run_sync(self._route, events, index)
            except Exception:
                logger.exception("realtime: routing %d events failed", len(events))
                continue
            self._hand_out(deliveries)

    def _may_reach_anyone(self, event: Event, index: dict[str, dict[str, _ApiIndex]]) -> bool:
        """False when, by what the router last learnt of the APIs (at most ``HINT_SECONDS``
        ago), no subscriber can receive ``event`` (an owner rule, other users' topics)."""
        now = time.monotonic()
        key = str(event.record_id)
        for name, api_index in index.get(event.table, {}).items():
            if key in api_index.by_record or api_index.admins:
                return True
            hint = self._owner_hints.get(name)
            if hint is None or now - hint[0] > HINT_SECONDS or hint[1] is None:
                if api_index.table_wide:
                    return True
                continue
            owner = event.row.get(hint[1])
            if owner is not None and str(owner) in api_index.by_user:
                return True
        return False

    def _drop_everyone(self) -> None:
        logger.warning("realtime: the dispatcher fell behind; every stream is dropped")
        for stream in list(self.streams):
            stream.end("dropped", "the server fell behind; events were lost")

    def _hand_out(self, deliveries: Iterable[_Delivery]) -> None:
        for delivery in deliveries:
            subscription = delivery.subscription
            stream = subscription.stream
            if stream.ended or subscription not in stream.subscriptions:
                continue
            if delivery.body is None:
                stream.end_topic(subscription, ERROR_FORBIDDEN, "Access denied")
                self.replace(stream, [s for s in stream.subscriptions if s is not subscription])
                if not stream.subscriptions and stream.client_id is None:
                    stream.finish()  # a TrailBase record stream: its one topic is gone
                continue
            framing = stream.framing
            stream.offer(framing.record(subscription.topic, delivery.operation, delivery.body))

    # -- routing (worker thread) ----------------------------------------------------------

    def _route(
        self, events: list[Event], index: dict[str, dict[str, _ApiIndex]]
    ) -> list[_Delivery]:
        deliveries: list[_Delivery] = []
        apis = self.registry.apis()
        for event in events:
            for name, api_index in index.get(event.table, {}).items():
                registered = apis.get(name)
                if registered is None or registered.table.name != event.table:
                    continue
                deliveries += self._route_one(event, registered.engine, api_index)
        return deliveries

    def _route_one(self, event: Event, engine: RecordEngine, index: _ApiIndex) -> list[_Delivery]:
        row = event.row if event.origin == self.origin else typed_row(event.row, engine.kinds)
        check = self._check(engine)
        self._owner_hints[engine.api.name] = (time.monotonic(), check.owner_column)
        candidates = list(index.by_record.get(str(event.record_id), ()))
        if check.owner_column is None:
            candidates += index.table_wide
        else:
            # An owner rule: of the table-wide topics, only the owner's and admins' can pass.
            owner = row.get(check.owner_column)
            candidates += index.admins
            if owner is not None:
                candidates += index.by_user.get(str(owner), ())
        if not candidates:
            return []
        readers = check.readers({s.principal for s in candidates}, row)
        readable = {name: row.get(name) for name in engine.readable}
        engine.show_files([readable])  # as a read shows them: no object ids
        bodies: dict[str, bytes] = {}
        deliveries = []
        for subscription in candidates:
            if subscription.principal not in readers:
                if subscription.record_id is not None:
                    deliveries.append(_Delivery(subscription, event.operation, None))
                continue
            if subscription.matches is not None and not subscription.matches(readable):
                continue
            body = bodies.get(subscription.shape)
            if body is None:
                shaped = readable
                if subscription.shape == "record":
                    shaped = self.shape_record(subscription.api, readable)
                body = bodies[subscription.shape] = self.encode(shaped)
            deliveries.append(_Delivery(subscription, event.operation, body))
        return deliveries

    def _check(self, engine: RecordEngine) -> ReadCheck:
        """The read check of ``engine`` (made again when the registry made a new engine)."""
        cached = self._checks.get(id(engine))
        if cached is None or cached[0] is not engine:
            if len(self._checks) > 256:
                self._checks.clear()
            cached = self._checks[id(engine)] = (engine, ReadCheck(engine))
        return cached[1]
