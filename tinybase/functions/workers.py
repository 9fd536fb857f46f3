"""Warm worker processes of isolated functions, and a pool of them per function.

A worker is ``<env python> -m tinybase_sdk.worker SCRIPT IN OUT LIMIT``, started in its
own session (so the whole process group can be killed), in a private temporary working
directory, with an environment of a few variables (:func:`worker_environment`) and an
address-space limit (``RLIMIT_AS``). Calls and their answers travel as frames over two
dedicated pipes (:mod:`tinybase_sdk.protocol`); the process's stdout and stderr are only
logged. A worker serves one call at a time; a pool keeps up to ``max_workers`` of them and
stops those idle past ``idle_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import shutil
import signal
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import anyio
import orjson
from tinybase_sdk import protocol

__all__ = ["Worker", "WorkerDied", "WorkerPool", "WorkerStartError", "worker_environment"]

logger = logging.getLogger("tinybase.functions")

ApiDispatch = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
"""Answers a worker's ``request`` message with a ``response`` message (the API loopback)."""
_LOCALE = ("LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_MESSAGES")


class WorkerDied(Exception):
    """The worker process ended (crashed, killed, out of memory) before answering."""


class WorkerStartError(Exception):
    """The script failed to load in a new worker; ``traceback`` is the script's own."""

    def __init__(self, error: str, traceback: str | None = None) -> None:
        super().__init__(error)
        self.traceback = traceback


def worker_environment(
    allowed: Mapping[str, str], secrets: Mapping[str, str], home: str
) -> dict[str, str]:
    """The whole environment of a worker: ``PATH``, the locale, a private ``HOME`` and
    ``TMPDIR``, the admin's allow-listed variables and the function's secrets; nothing of
    the server's own (database URL, ``TINYBASE_*``, keys)."""
    environment = {"PATH": os.environ.get("PATH", os.defpath), "HOME": home, "TMPDIR": home}
    environment.update({name: os.environ[name] for name in _LOCALE if name in os.environ})
    environment.update(allowed)
    environment.update(secrets)
    environment["PYTHONUNBUFFERED"] = "1"
    return environment


class Worker:
    """One worker process (use :meth:`start`)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.process: asyncio.subprocess.Process | None = None
        self.metadata: dict[str, Any] = {}
        self.last_used = time.monotonic()
        self.calls = 0
        self._reader: asyncio.StreamReader | None = None
        self._read_pipe: asyncio.BaseTransport | None = None
        self._writer: asyncio.WriteTransport | None = None
        self._home: str | None = None
        self._drain: asyncio.Task[None] | None = None

    @classmethod
    async def start(
        cls,
        name: str,
        python: Path,
        script: Path,
        *,
        environment: Callable[[str], dict[str, str]],
        memory_bytes: int | None,
        output_limit: int,
        start_seconds: float,
    ) -> Worker:
        """Start a worker and wait for its ``hello``.

        Raises:
            WorkerStartError: the script failed to load, registered nothing, or the
                process did not announce itself in time.
        """
        worker = cls(name)
        try:
            await worker._spawn(python, script, environment, memory_bytes, output_limit)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(start_seconds):
                    hello = await worker._read()
                    if "error" in hello:
                        raise WorkerStartError(hello["error"], hello.get("traceback"))
                    worker.metadata = hello["metadata"]
                    return worker
            raise WorkerStartError(f"the worker did not start within {start_seconds:g} s")
        except WorkerDied as exc:
            await worker.kill()
            raise WorkerStartError(f"the worker exited while loading the script ({exc})") from None
        except BaseException:
            await worker.kill()
            raise

    async def _spawn(
        self,
        python: Path,
        script: Path,
        environment: Callable[[str], dict[str, str]],
        memory_bytes: int | None,
        output_limit: int,
    ) -> None:
        child_in, to_child = os.pipe()
        from_child, child_out = os.pipe()
        self._home = tempfile.mkdtemp(prefix=f"tinybase-{self.name}-")
        try:
            self.process = await asyncio.create_subprocess_exec(
                str(python),
                "-m",
                "tinybase_sdk.worker",
                str(script),
                str(child_in),
                str(child_out),
                str(output_limit),
                pass_fds=(child_in, child_out),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                cwd=self._home,
                env=environment(self._home),
                start_new_session=True,
            )
        finally:
            os.close(child_in)
            os.close(child_out)
        if memory_bytes is not None:
            with contextlib.suppress(ProcessLookupError):
                resource.prlimit(self.process.pid, resource.RLIMIT_AS, (memory_bytes,) * 2)
        loop = asyncio.get_running_loop()
        self._reader = asyncio.StreamReader(limit=protocol.MAX_FRAME_BYTES)
        self._read_pipe, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(self._reader), os.fdopen(from_child, "rb", 0)
        )
        self._writer, _ = await loop.connect_write_pipe(
            asyncio.Protocol, os.fdopen(to_child, "wb", 0)
        )
        self._drain = asyncio.ensure_future(self._log_output())

    async def _log_output(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        async for line in self.process.stdout:
            logger.info("function %s: %s", self.name, line.decode(errors="replace").rstrip())

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def send(self, message: dict[str, Any]) -> None:
        assert self._writer is not None
        body = orjson.dumps(message)
        self._writer.write(protocol.HEADER.pack(len(body)) + body)

    async def _read(self) -> dict[str, Any]:
        assert self._reader is not None
        try:
            header = await self._reader.readexactly(protocol.HEADER.size)
            body = await self._reader.readexactly(protocol.body_length(header))
        except (asyncio.IncompleteReadError, ConnectionError, protocol.ProtocolError):
            raise WorkerDied(await self._exit_reason()) from None
        try:
            message = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise WorkerDied("it sent a frame that is not JSON") from None
        return message

    async def _exit_reason(self) -> str:
        assert self.process is not None
        try:
            async with asyncio.timeout(2):
                code = await self.process.wait()
        except TimeoutError:
            return "it closed its pipe"
        if code < 0:
            return f"killed by signal {signal.Signals(-code).name}"
        return f"exit status {code}"

    async def call(self, message: dict[str, Any], dispatch: ApiDispatch) -> dict[str, Any]:
        """Send a call and answer its API requests until its result comes.

        Raises:
            WorkerDied: the process ended first.
        """
        self.calls += 1
        self.send(message)
        while True:
            frame = await self._read()
            kind = frame.get("type")
            if kind == "result":
                self.last_used = time.monotonic()
                return frame
            if kind != "request":
                raise WorkerDied(f"it sent an unexpected {kind!r} frame")
            self.send(await dispatch(frame))

    async def kill(self) -> None:
        """Kill the process group (at once) and reap it; remove its directory. Shielded:
        a cancelled caller must not leave the process running."""
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        with anyio.CancelScope(shield=True):
            await self._finish()

    async def stop(self, grace: float = 2.0) -> None:
        """Close its pipe (it exits on its own), then kill it if it lingers."""
        if self._writer is not None:
            self._writer.close()
        if self.process is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(grace):
                    await self.process.wait()
        await self.kill()

    async def _finish(self) -> None:
        if self.process is not None:
            await self.process.wait()
        if self._writer is not None:
            self._writer.close()
        if self._read_pipe is not None:
            self._read_pipe.close()
        if self._drain is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._drain, 2)
        if self._home is not None:
            shutil.rmtree(self._home, ignore_errors=True)
            self._home = None


class WorkerPool:
    """The warm workers of one function.

    Args:
        spawn: starts a new worker.
        max_workers: how many processes at most (calls past that wait for one).
        idle_seconds: a worker idle this long is stopped (the next call starts one).
    """

    def __init__(
        self, spawn: Callable[[], Awaitable[Worker]], *, max_workers: int, idle_seconds: float
    ) -> None:
        self._spawn = spawn
        self._slots = asyncio.Semaphore(max_workers)
        self._idle: list[Worker] = []
        self._all: set[Worker] = set()
        self.idle_seconds = idle_seconds
        self.closed = False

    def add(self, worker: Worker) -> None:
        """Adopt a started worker (the one that read the metadata) as idle."""
        self._all.add(worker)
        self._idle.append(worker)

    @property
    def size(self) -> int:
        return len(self._all)

    async def acquire(self) -> Worker:
        """A worker for one call (an idle one, else a new one); waits for a free slot.

        Raises:
            WorkerStartError: a new worker failed to start.
        """
        await self._slots.acquire()
        try:
            while self._idle:
                worker = self._idle.pop()
                if worker.alive:
                    return worker
                self._all.discard(worker)
                await worker.kill()
            worker = await self._spawn()
        except BaseException:
            self._slots.release()
            raise
        self._all.add(worker)
        return worker

    async def release(self, worker: Worker, *, healthy: bool) -> None:
        """Give a worker back after a call; an unhealthy one is killed (and reaped)."""
        try:
            if healthy and worker.alive and not self.closed:
                self._idle.append(worker)
            else:
                self._all.discard(worker)
                await worker.kill()
        finally:
            self._slots.release()

    async def reap(self) -> None:
        """Stop the workers idle past ``idle_seconds``."""
        now = time.monotonic()
        stale = [w for w in self._idle if now - w.last_used >= self.idle_seconds or not w.alive]
        for worker in stale:
            self._idle.remove(worker)
            self._all.discard(worker)
            await worker.stop()

    async def close(self) -> None:
        """Stop every worker (idle ones now; busy ones are killed as their call ends)."""
        self.closed = True
        idle, self._idle = self._idle, []
        for worker in idle:
            self._all.discard(worker)
        with anyio.CancelScope(shield=True):
            await asyncio.gather(*(worker.stop() for worker in idle))

    async def kill_all(self) -> None:
        """Kill every worker, busy ones included (shutdown)."""
        self.closed = True
        workers, self._idle = list(self._all), []
        self._all.clear()
        with anyio.CancelScope(shield=True):
            await asyncio.gather(*(worker.kill() for worker in workers))
