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
from collections.abc import Iterable

import anyio
import anyio.to_thread

from tinybase.extensions.hooks import HookKind, HookSpec

__all__ = ["DEFAULT_QUEUE_SIZE", "Hooks"]

logger = logging.getLogger("tinybase.extensions")

DEFAULT_QUEUE_SIZE = 10_000
"""Events waiting for the hook runner before new ones are dropped."""

_Job = tuple[tuple[HookSpec, ...], object | None]


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

    def run_later(self, kind: HookKind, event: object, target: str | None = None) -> None:
        """Queue the matching handlers for the hook runner. Thread-safe, never blocks."""
        specs = self.matching(kind, target)
        if not specs:
            return
        with self._guard:
            if len(self._queue) >= self.queue_size:
                self.dropped += 1
                dropped = self.dropped
            else:
                dropped = 0
                self._queue.append((specs, event))
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
        """Events waiting for the runner."""
        return len(self._queue)

    async def serve(self) -> None:
        """The hook runner: run queued jobs in order until :meth:`close` and the queue is
        empty. Start it once, in the app's task group."""
        self._wake = asyncio.Event()
        self._done = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        try:
            while True:
                job = self._next_job()
                if job is not None:
                    await _run_all(*job)
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
        if self._queue:
            logger.warning("hook runner stopped with %d events still queued", len(self._queue))

    def _next_job(self) -> _Job | None:
        with self._guard:
            if self._queue:
                return self._queue.popleft()
            self._wake_pending = False
            return None

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
    args = () if event is None else (event,)
    try:
        if inspect.iscoroutinefunction(spec.handler):
            await spec.handler(*args)
        else:
            result = await anyio.to_thread.run_sync(spec.handler, *args)
            if inspect.isawaitable(result):
                await result
    except Exception:
        logger.exception("hook %s (%s) failed on %r", spec.name, spec.kind.value, event)
