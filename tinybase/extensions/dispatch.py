"""An instance's hooks: which handlers match an event, running them now or later.

:class:`Hooks` is built once per process at start-up from ``collected_hooks()`` and lives on
``AppState.hooks``. Two ways to run a kind of hook:

* :meth:`Hooks.run` (async) runs the matching handlers at once, in registration order: async
  ones awaited, sync ones in a worker thread, never on the event loop.
* :meth:`Hooks.run_later` (any thread, never blocks) queues them for the instance's hook
  runner, a thread started with the app (:meth:`Hooks.start`). This is how after-commit
  hooks run: the write's thread and the request never wait for them. The runner takes the
  queue in batches and calls sync handlers itself; async handlers run on the app's event
  loop (the runner waits for them, so each handler sees the events in order). The queue is
  bounded: when it is full the event is dropped, counted (:attr:`Hooks.dropped`) and a
  warning logged. :meth:`Hooks.close` drains it on shutdown, within a time limit.

  A thread rather than a task of the event loop: queuing then costs the writing thread a
  lock and a deque append, and nothing wakes the event loop for a sync handler (the
  first design, a task handing each batch to a worker thread, cost about a third of a
  millisecond per event).

Either way a handler that raises is logged with its name and the event, and the others still
run: nothing a hook does reaches the request, the write or the runner.

Before-record hooks (:meth:`Hooks.run_before`) are different: they run synchronously inside the
write's transaction and their exceptions are meant to reach the writer (a refused write).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import anyio
import anyio.to_thread

from tinybase.extensions.hooks import HookKind, HookSpec

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
        self._ready = threading.Condition()
        self._running = 0
        self._closing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

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
        with self._ready:
            full = len(self._queue) >= self.queue_size
            if full:
                self.dropped += 1
                dropped = self.dropped
            else:
                self._queue.append((specs, event, convert))
                self._ready.notify()
        if full:
            logger.warning(
                "hook queue full (%d events): dropped %s for %r (%d dropped so far)",
                self.queue_size,
                kind.value,
                event,
                dropped,
            )

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

    def start(self) -> None:
        """Start the hook runner thread; call it on the app's event loop (async handlers
        run there)."""
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._serve, name="tinybase-hooks", daemon=True)
        self._thread.start()

    async def close(self, timeout: float = 10.0) -> None:
        """Shut the runner down: it finishes what is queued (at most ``timeout`` seconds),
        then stops. Without a runner (the CLI), one is started here to drain the queue.

        A runner still busy at the timeout is left behind (a daemon thread: it does not keep
        the process alive); what it had not run is logged.
        """
        if self._thread is None:
            self.start()
        assert self._thread is not None
        with self._ready:
            self._closing = True
            self._ready.notify()
        await anyio.to_thread.run_sync(self._thread.join, timeout, abandon_on_cancel=True)
        if self.queued:
            logger.warning("hook runner stopped with %d events still queued", self.queued)

    def _serve(self) -> None:
        """The runner thread: batches of jobs, in queue order, until closed and empty."""
        while True:
            with self._ready:
                while not self._queue and not self._closing:
                    self._ready.wait()
                if not self._queue:
                    return
                batch = [self._queue.popleft() for _ in range(min(MAX_BATCH, len(self._queue)))]
                self._running = len(batch)
            for job in batch:
                self._run_job(*job)
                self._running -= 1

    def _run_job(
        self, specs: tuple[HookSpec, ...], event: object | None, convert: Convert | None
    ) -> None:
        """One queued event: converted, then its handlers in order (async ones on the loop,
        waited for)."""
        if convert is not None:
            try:
                event = convert(event)
            except Exception:
                logger.exception("hook event %r could not be prepared", event)
                return
            if event is None:
                return
        for spec in specs:
            if _is_async(spec):
                self._await_on_loop(spec, event)
            else:
                _call_sync(spec, event)

    def _await_on_loop(self, spec: HookSpec, event: object | None) -> None:
        assert self._loop is not None
        try:
            future = asyncio.run_coroutine_threadsafe(_run_async(spec, event), self._loop)
        except RuntimeError:  # the loop has closed
            logger.error("hook %s not run: the event loop has stopped", spec.name)
            return
        try:
            future.result()
        except concurrent.futures.CancelledError:
            logger.error("hook %s was cancelled", spec.name)


async def _run_all(specs: tuple[HookSpec, ...], event: object | None) -> None:
    for spec in specs:
        if _is_async(spec):
            await _run_async(spec, event)
        else:
            await anyio.to_thread.run_sync(_call_sync, spec, event, abandon_on_cancel=True)


async def _run_async(spec: HookSpec, event: object | None) -> None:
    try:
        await (spec.handler() if event is None else spec.handler(event))
    except Exception:
        _log_failure(spec, event)


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
