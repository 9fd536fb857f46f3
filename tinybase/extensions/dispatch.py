"""An instance's hooks: which handlers match an event, running them now or later.

:class:`Hooks` is built once per process at start-up from ``collected_hooks()`` and lives on
``AppState.hooks``. Two ways to run a kind of hook:

* :meth:`Hooks.run` (async) runs the matching handlers at once, in registration order: async
  ones awaited, sync ones in a worker thread, never on the event loop.
* :meth:`Hooks.run_later` (any thread, never blocks) queues them for the instance's hook
  runner, :meth:`Hooks.serve`, a task in the app's task group. This is how after-commit
  hooks run: the write's thread and the request never wait for them. The queue is bounded:
  when it is full the event is dropped, counted (:attr:`Hooks.dropped`) and a warning logged.
  :meth:`Hooks.close` drains it on shutdown, within a time limit.

Either way a handler that raises is logged with its name and the event, and the others still
run: nothing a hook does reaches the request, the write or the runner.

Before-record hooks (:meth:`Hooks.run_before`) are different: they run synchronously inside the
write's transaction and their exceptions are meant to reach the writer (a refused write).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread

from tinybase.extensions.hooks import HookKind, HookSpec

if TYPE_CHECKING:
    from anyio.abc import TaskGroup

__all__ = ["DEFAULT_QUEUE_SIZE", "Hooks"]

logger = logging.getLogger("tinybase.extensions")

DEFAULT_QUEUE_SIZE = 10_000
"""Events waiting for the hook runner before new ones are dropped."""
MAX_BATCH = 64
"""Queued events the runner takes at once."""

Convert = Callable[[Any], object | None]
"""Turns what was queued into the handlers' event, in the runner (None: nothing to run)."""

_Job = tuple[tuple[HookSpec, ...], object | None, Convert | None]


class Hooks:
    """An instance's hooks, built at start-up from ``collected_hooks()``; on AppState as
    ``hooks``.

    Matching: a spec matches ``(kind, target)`` when ``spec.kind == kind`` and its target is
    None (every collection or function) or equal to ``target``.
    """

    def __init__(self, specs: Iterable[HookSpec], *, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size must be at least 1, not {queue_size}")
        self.specs: tuple[HookSpec, ...] = tuple(specs)
        self.queue_size = queue_size
        self.dropped = 0
        """Events dropped because the queue was full (since start-up)."""
        self._by_kind: dict[HookKind, tuple[HookSpec, ...]] = {}
        for spec in self.specs:
            self._by_kind[spec.kind] = (*self._by_kind.get(spec.kind, ()), spec)
        self._matching: dict[tuple[HookKind, str | None], tuple[HookSpec, ...]] = {}
        self._queue: deque[_Job] = deque()
        self._guard = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._wake_pending = False
        self._closing = False
        self._done: asyncio.Event | None = None
        self._running = 0

    def __repr__(self) -> str:
        return f"<Hooks {len(self.specs)} handlers, {len(self._queue)} queued>"

    def has(self, kind: HookKind, target: str | None = None) -> bool:
        """Whether any handler matches (cheap: callers skip building the event otherwise)."""
        return bool(self.matching(kind, target))

    def has_kind(self, kind: HookKind) -> bool:
        """Whether any handler of ``kind`` is registered, whatever its target."""
        return kind in self._by_kind

    def matching(self, kind: HookKind, target: str | None = None) -> tuple[HookSpec, ...]:
        """The handlers for ``(kind, target)``, in registration order (cached)."""
        key = (kind, target)
        found = self._matching.get(key)
        if found is None:
            found = tuple(
                spec
                for spec in self._by_kind.get(kind, ())
                if spec.target is None or spec.target == target
            )
            self._matching[key] = found
        return found

    async def run(
        self, kind: HookKind, event: object | None = None, target: str | None = None
    ) -> None:
        """Run the matching handlers now, in order; never raises (failures are logged)."""
        specs = self.matching(kind, target)
        if specs:
            await _run_all(specs, event)

    def run_later(
        self,
        kind: HookKind,
        event: object,
        target: str | None = None,
        *,
        convert: Convert | None = None,
    ) -> None:
        """Queue the matching handlers for the hook runner. Thread-safe, never blocks.

        ``convert``: when given, the runner calls ``convert(event)`` in a worker thread and
        hands its result to the handlers instead (or skips them when it is None), so that a
        caller in a hurry (the writing thread right after a commit) only queues.
        """
        specs = self.matching(kind, target)
        if not specs:
            return
        with self._guard:
            if len(self._queue) >= self.queue_size:
                self.dropped += 1
                dropped = self.dropped
            else:
                dropped = 0
                self._queue.append((specs, event, convert))
                wake = not self._wake_pending and self._loop is not None
                if wake:
                    self._wake_pending = True
        if dropped:
            logger.warning(
                "hook queue full (%d events): dropped %s for %r (%d dropped so far)",
                self.queue_size,
                kind.value,
                event,
                dropped,
            )
        elif wake:
            self._wake_up()

    def run_before(self, kind: HookKind, event: object, target: str | None = None) -> None:
        """Call the matching before-record handlers, in order, in this thread.

        Meant for the write's own thread, inside its transaction: exceptions propagate (a
        handler refuses the write by raising) and the handlers must be sync (checked when
        they are registered, see :mod:`tinybase.extensions.hooks`).
        """
        for spec in self.matching(kind, target):
            spec.handler(event)

    @property
    def queued(self) -> int:
        """Events waiting for the runner or being run by it."""
        return len(self._queue) + self._running

    def start(self, task_group: TaskGroup) -> None:
        """Start the hook runner (:meth:`serve`) in ``task_group`` (the app's)."""
        self._prepare()
        task_group.start_soon(self.serve, name="hook runner")

    def _prepare(self) -> None:
        self._wake = asyncio.Event()
        self._done = asyncio.Event()

    async def serve(self) -> None:
        """The hook runner: run queued jobs in order until :meth:`close` and the queue is
        empty. Start it once, in the app's task group.

        Jobs are taken in batches: the sync handlers of a whole batch (and the conversion
        of their events) run in one worker-thread hop, in queue order, so a busy instance
        does not pay a thread hop per handler and event. Each handler sees the events in
        commit order; the handlers of one event run in registration order.
        """
        if self._done is None:
            self._prepare()
        assert self._wake is not None and self._done is not None
        self._loop = asyncio.get_running_loop()
        try:
            while True:
                batch = self._next_batch()
                if batch:
                    await self._run_batch(batch)
                elif self._closing:
                    return
                else:
                    await self._wake.wait()
                    self._wake.clear()
        finally:
            self._done.set()

    async def close(self, timeout: float = 10.0) -> None:
        """Shut the runner down: it finishes what is queued (at most ``timeout`` seconds),
        then returns. Without a running runner (the CLI), drain the queue here."""
        with self._guard:
            self._closing = True
        if self._done is None:
            with anyio.move_on_after(timeout):
                await self.serve()
        else:
            self._wake_up()
            with anyio.move_on_after(timeout):
                await self._done.wait()
        if self.queued:
            logger.warning("hook runner stopped with %d events still queued", self.queued)

    def _next_batch(self) -> list[_Job]:
        with self._guard:
            batch = [self._queue.popleft() for _ in range(min(MAX_BATCH, len(self._queue)))]
            if not batch:
                self._wake_pending = False
            self._running = len(batch)
            return batch

    async def _run_batch(self, batch: list[_Job]) -> None:
        """The batch's sync part in one thread hop, then what is left (async handlers, and
        the handlers after them) on the loop."""
        if any(convert is not None or _sync_first(specs) for specs, _e, convert in batch):
            # Abandoned (left to finish in its thread) if the runner is cancelled: a shutdown
            # that ran out of drain time does not wait for it.
            rest = await anyio.to_thread.run_sync(
                self._run_sync_part, batch, abandon_on_cancel=True
            )
        else:
            rest = [(specs, event) for specs, event, _convert in batch]
        for specs, event in rest:
            await _run_all(specs, event)
            self._running -= 1

    def _run_sync_part(self, batch: list[_Job]) -> list[tuple[tuple[HookSpec, ...], object]]:
        rest = []
        for specs, event, convert in batch:
            self._running -= 1
            if convert is not None:
                try:
                    event = convert(event)
                except Exception:
                    logger.exception("hook event %r could not be prepared", event)
                    continue
                if event is None:
                    continue
            first_async = next((n for n, spec in enumerate(specs) if _is_async(spec)), len(specs))
            for spec in specs[:first_async]:
                _call_sync(spec, event)
            if first_async < len(specs):
                self._running += 1
                rest.append((specs[first_async:], event))
        return rest

    def _wake_up(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is None or wake is None:
            return
        with contextlib.suppress(RuntimeError):  # a closed loop: nothing is left to wake
            loop.call_soon_threadsafe(wake.set)


async def _run_all(specs: tuple[HookSpec, ...], event: object | None) -> None:
    for spec in specs:
        await _run_one(spec, event)


async def _run_one(spec: HookSpec, event: object | None) -> None:
    if _is_async(spec):
        args = () if event is None else (event,)
        try:
            await spec.handler(*args)
        except Exception:
            _log_failure(spec, event)
    else:
        await anyio.to_thread.run_sync(_call_sync, spec, event, abandon_on_cancel=True)


def _call_sync(spec: HookSpec, event: object | None) -> None:
    """A sync handler, in the calling (worker) thread; its failure is logged."""
    try:
        result = spec.handler() if event is None else spec.handler(event)
    except Exception:
        _log_failure(spec, event)
        return
    if inspect.isawaitable(result):  # a plain function that returned a coroutine
        close = getattr(result, "close", None)
        if close is not None:
            close()
        logger.error("hook %s returned an awaitable: declare it `async def`", spec.name)


def _log_failure(spec: HookSpec, event: object | None) -> None:
    logger.exception("hook %s (%s) failed on %r", spec.name, spec.kind.value, event)


def _is_async(spec: HookSpec) -> bool:
    return inspect.iscoroutinefunction(spec.handler)


def _sync_first(specs: tuple[HookSpec, ...]) -> bool:
    return bool(specs) and not _is_async(specs[0])
