"""Hooks: matching, running now and later, failures that harm nothing, the bounded queue."""

from __future__ import annotations

import logging
import threading
import time

import anyio
import pytest

from tinybase.extensions.dispatch import Hooks
from tinybase.extensions.hooks import HookKind, HookSpec


def _recorder(calls: list, label: str):
    def handler(event=None):
        calls.append((label, event, threading.current_thread() is threading.main_thread()))

    handler.__qualname__ = label
    return handler


def test_matching_by_kind_and_target_in_registration_order() -> None:
    calls: list = []
    hooks = Hooks(
        [
            HookSpec(HookKind.RECORD_CREATE, _recorder(calls, "any")),
            HookSpec(HookKind.RECORD_CREATE, _recorder(calls, "orders"), "orders"),
            HookSpec(HookKind.RECORD_UPDATE, _recorder(calls, "update")),
            HookSpec(HookKind.RECORD_CREATE, _recorder(calls, "notes"), "notes"),
        ]
    )
    assert hooks.has(HookKind.RECORD_CREATE, "orders")
    assert hooks.has(HookKind.RECORD_CREATE, "items")  # the untargeted one matches
    assert not hooks.has(HookKind.RECORD_DELETE, "orders")
    assert not Hooks([HookSpec(HookKind.RECORD_CREATE, print, "notes")]).has(
        HookKind.RECORD_CREATE, "orders"
    )
    anyio.run(hooks.run, HookKind.RECORD_CREATE, "e1", "orders")
    # Sync handlers ran in a worker thread, not on the event loop's (main) thread.
    assert calls == [("any", "e1", False), ("orders", "e1", False)]


def test_run_awaits_async_handlers_and_calls_startup_hooks_without_an_event() -> None:
    calls: list = []

    async def started() -> None:
        await anyio.sleep(0)
        calls.append("async")

    hooks = Hooks(
        [HookSpec(HookKind.STARTUP, started), HookSpec(HookKind.STARTUP, _recorder(calls, "s"))]
    )
    anyio.run(hooks.run, HookKind.STARTUP)
    assert calls == ["async", ("s", None, False)]


def test_a_raising_handler_is_logged_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list = []

    def broken(event: object) -> None:
        raise RuntimeError("boom")

    async def broken_async(event: object) -> None:
        raise KeyError("async boom")

    hooks = Hooks(
        [
            HookSpec(HookKind.USER_LOGIN, broken),
            HookSpec(HookKind.USER_LOGIN, broken_async),
            HookSpec(HookKind.USER_LOGIN, _recorder(calls, "after")),
        ]
    )
    with caplog.at_level(logging.ERROR, logger="tinybase.extensions"):
        anyio.run(hooks.run, HookKind.USER_LOGIN, "the-event")
    assert calls == [("after", "the-event", False)]
    failures = [r for r in caplog.records if r.name == "tinybase.extensions"]
    assert len(failures) == 2
    assert "test_dispatch.test_a_raising_handler_is_logged" in failures[0].getMessage()
    assert "broken" in failures[0].getMessage() and "'the-event'" in failures[0].getMessage()
    assert failures[0].exc_info[0] is RuntimeError
    assert failures[1].exc_info[0] is KeyError


def test_run_later_from_other_threads_runs_everything_in_order_then_close_drains() -> None:
    seen: list[int] = []
    hooks = Hooks([HookSpec(HookKind.RECORD_CREATE, seen.append)])

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            hooks.start(tg)

            def produce() -> None:
                for n in range(200):
                    hooks.run_later(HookKind.RECORD_CREATE, n, "orders")

            await anyio.to_thread.run_sync(produce)
            hooks.run_later(HookKind.RECORD_CREATE, 200)  # from the loop's own thread too
            await hooks.close(timeout=10)
            assert hooks.queued == 0
            tg.cancel_scope.cancel()

    anyio.run(main)
    assert seen == list(range(201))


def test_run_later_never_waits_for_a_slow_handler() -> None:
    done = threading.Event()

    def slow(event: object) -> None:
        time.sleep(1)
        done.set()

    hooks = Hooks([HookSpec(HookKind.RECORD_DELETE, slow)])

    async def main() -> float:
        async with anyio.create_task_group() as tg:
            hooks.start(tg)
            start = time.perf_counter()
            hooks.run_later(HookKind.RECORD_DELETE, "e")
            elapsed = time.perf_counter() - start
            await hooks.close(timeout=5)
            tg.cancel_scope.cancel()
        return elapsed

    elapsed = anyio.run(main)
    assert elapsed < 0.05
    assert done.is_set()  # drained on close


def test_a_full_queue_drops_counts_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    seen: list = []
    hooks = Hooks([HookSpec(HookKind.RECORD_CREATE, seen.append)], queue_size=3)
    with caplog.at_level(logging.WARNING, logger="tinybase.extensions"):
        for n in range(5):  # no runner yet: the queue fills
            hooks.run_later(HookKind.RECORD_CREATE, n)
    assert hooks.queued == 3 and hooks.dropped == 2
    assert sum("hook queue full" in r.getMessage() for r in caplog.records) == 2
    # Without a runner (the CLI), close() drains the queue itself.
    anyio.run(hooks.close)
    assert seen == [0, 1, 2] and hooks.queued == 0


def test_run_later_without_a_matching_handler_queues_nothing() -> None:
    hooks = Hooks([HookSpec(HookKind.RECORD_CREATE, print, "notes")], queue_size=1)
    hooks.run_later(HookKind.RECORD_CREATE, "e", "orders")
    hooks.run_later(HookKind.RECORD_UPDATE, "e", "notes")
    assert hooks.queued == 0 and hooks.dropped == 0


def test_close_gives_up_after_its_timeout(caplog: pytest.LogCaptureFixture) -> None:
    def slow(event: object) -> None:
        time.sleep(0.5)

    hooks = Hooks([HookSpec(HookKind.RECORD_CREATE, slow)])
    for n in range(10):
        hooks.run_later(HookKind.RECORD_CREATE, n)

    async def main() -> float:
        async with anyio.create_task_group() as tg:
            hooks.start(tg)
            start = time.perf_counter()
            with caplog.at_level(logging.WARNING, logger="tinybase.extensions"):
                await hooks.close(timeout=0.7)
            tg.cancel_scope.cancel()
        return time.perf_counter() - start

    assert anyio.run(main) < 1.5
    assert 0 < hooks.queued < 10
    assert any("still queued" in r.getMessage() for r in caplog.records)


def test_before_hooks_run_in_the_calling_thread_and_raise() -> None:
    seen: list = []

    def refuse(event: dict) -> None:
        if event.get("bad"):
            raise ValueError("no")
        seen.append(threading.current_thread().name)

    hooks = Hooks([HookSpec(HookKind.BEFORE_RECORD_CREATE, refuse, "orders")])
    hooks.run_before(HookKind.BEFORE_RECORD_CREATE, {"bad": False}, "orders")
    assert seen == [threading.current_thread().name]
    with pytest.raises(ValueError, match="no"):
        hooks.run_before(HookKind.BEFORE_RECORD_CREATE, {"bad": True}, "orders")
    hooks.run_before(HookKind.BEFORE_RECORD_CREATE, {"bad": True}, "notes")  # not targeted


def test_an_async_before_hook_is_refused_when_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    from tinybase.extensions import before_record_update, hooks

    monkeypatch.setattr(hooks, "_collected", [])
    with pytest.raises(TypeError, match="must be a plain function, not async"):

        @before_record_update(collection="orders")
        async def nope(event: object) -> None: ...

    assert hooks.collected_hooks() == ()


def test_batched_events_keep_their_order_with_sync_and_async_handlers() -> None:
    calls: list[tuple[str, int]] = []

    def first(n: int) -> None:
        calls.append(("first", n))

    async def second(n: int) -> None:
        calls.append(("second", n))

    def third(n: int) -> None:
        calls.append(("third", n))

    def odd_only(n: object) -> int | None:  # a conversion that drops some events
        return n if isinstance(n, int) and n % 2 else None

    hooks = Hooks([HookSpec(HookKind.RECORD_UPDATE, f) for f in (first, second, third)])
    for n in range(100):  # queued before the runner starts: it takes them in batches
        hooks.run_later(HookKind.RECORD_UPDATE, n, convert=odd_only)

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            hooks.start(tg)
            await hooks.close(timeout=10)
            tg.cancel_scope.cancel()

    anyio.run(main)
    odd = range(1, 100, 2)
    for name in ("first", "second", "third"):
        assert [n for who, n in calls if who == name] == list(odd)
    for n in odd:
        assert [who for who, m in calls if m == n] == ["first", "second", "third"]
    assert hooks.queued == 0
