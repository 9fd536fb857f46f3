"""Isolated functions: ``tinybase_sdk`` scripts, each run in warm worker processes of its
own uv environment, served through the same registry, runner and routes as in-process ones.

:class:`IsolatedFunctions` (``Functions.isolated``) finds the scripts of ``functions_path``
(a ``.py`` file with a ``# /// script`` block) and the versions deployed over HTTP, prepares
each in the background (uv, then a first worker that reports the metadata), and puts it in
the registry once ready: meanwhile its name answers 503. It watches the folder (a poll
every second: one ``stat`` per file) and the deployed versions, so a change is served
within seconds, without a restart. A script that fails is listed with its error for admins.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import hashlib
import logging
import time
import traceback
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from tinybase.auth.principal import Principal
from tinybase.errors import ConflictError, NotFoundError, ValidationError
from tinybase.functions.call_tokens import CallTokens
from tinybase.functions.deploys import DeployStore
from tinybase.functions.environments import PrepareError, prepare_environment
from tinybase.functions.errors import DuplicateFunctionError, FunctionBusyError
from tinybase.functions.isolated_calls import (
    IsolatedFunction,
    IsolatedFunctionSpec,
    IsolationSettings,
    isolated_spec,
)
from tinybase.functions.loader import is_sdk_script
from tinybase.functions.registry import FunctionRegistry, check_function_name
from tinybase.functions.scripts import ScriptError
from tinybase.functions.workers import (
    ApiDispatch,
    WorkerStartError,
)

__all__ = ["IsolatedFunctions", "ScriptEntry"]

logger = logging.getLogger("tinybase.functions")


@dataclass
class ScriptEntry:
    """One script source (a file of the folder, or a deployed version) and its state."""

    key: str
    path: Path
    origin: str
    name: str
    state: str = "preparing"
    error: str | None = None
    traceback: str | None = None
    digest: str = ""
    stamp: tuple[int, int] | None = None
    version: int | None = None
    function: IsolatedFunction | None = None
    task: asyncio.Task[None] | None = None
    prepared_seconds: float | None = None

    def public(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": "isolated",
            "origin": self.origin,
            "file": str(self.path),
            "state": self.state,
            "error": self.error,
            "traceback": self.traceback,
            "version": self.version,
            "prepared_seconds": self.prepared_seconds,
        }


class IsolatedFunctions:
    """An instance's isolated functions (see the module docstring).

    Args:
        registry: the instance's registry (ready functions are put there).
        settings: limits and environment.
        folder: ``functions_path``.
        work: where environment scripts, the SDK wheel and deployed scripts go.
        deploys: the deployed versions (None: no deploys).
    """

    def __init__(
        self,
        registry: FunctionRegistry,
        settings: IsolationSettings,
        *,
        folder: Path,
        work: Path,
        deploys: DeployStore | None = None,
    ) -> None:
        self.registry = registry
        self.settings = settings
        self.folder = folder
        self.work = work
        self.deploys = deploys
        self.tokens = CallTokens()
        self.entries: dict[str, ScriptEntry] = {}
        self._user_calls: dict[str | None, int] = {}
        self._uv = asyncio.Semaphore(2)
        self._deploy_sync = asyncio.Lock()
        self._folder_sync = asyncio.Lock()
        self.synced = asyncio.Event()
        """Set once the folder and the deployed versions were first looked at."""
        self._dispatch: ApiDispatch | None = None

    def bind_api(self, dispatch: ApiDispatch) -> None:
        """Answer workers' API requests with ``dispatch`` (the app, as the caller)."""
        self._dispatch = dispatch

    async def dispatch(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self._dispatch is not None, "bind_api() first"
        return await self._dispatch(request)

    # Calls --------------------------------------------------------------------------

    @contextlib.contextmanager
    def admit(self, spec: IsolatedFunctionSpec, principal: Principal) -> Any:
        """Hold a call slot of the function and of the caller.

        Raises:
            FunctionBusyError: past ``max_concurrent_calls`` or ``max_calls_per_user``.
        """
        function = spec.runtime
        assert function is not None
        settings, user = self.settings, principal.user_id
        if function.running >= settings.max_concurrent_calls:
            raise FunctionBusyError(f"Function {spec.name!r} has too many calls running")
        if self._user_calls.get(user, 0) >= settings.max_calls_per_user:
            raise FunctionBusyError("Too many function calls of yours are running")
        function.running += 1
        self._user_calls[user] = self._user_calls.get(user, 0) + 1
        try:
            yield
        finally:
            function.running -= 1
            left = self._user_calls[user] - 1
            if left:
                self._user_calls[user] = left
            else:
                del self._user_calls[user]

    # Discovery ----------------------------------------------------------------------

    async def run(self) -> None:
        """Prepare every script, then follow changes until cancelled (a background task);
        on the way out, every worker is killed."""
        try:
            await self.sync()
            self.synced.set()
            while True:
                await anyio.sleep(1.0)
                if self.settings.watch:
                    await self.sync_folder()
                await self._reap()
                await self._maybe_sync_deploys()
        finally:
            with anyio.CancelScope(shield=True):
                await self.close()

    async def sync(self) -> None:
        """Look at the folder and the deployed versions once (start-up, CLI)."""
        await self.sync_folder()
        await self.sync_deploys()

    async def wait_ready(self) -> None:
        """Wait until nothing is being prepared."""
        while tasks := [e.task for e in self.entries.values() if e.task and not e.task.done()]:
            await asyncio.gather(*tasks, return_exceptions=True)

    _last_deploy_poll = 0.0

    async def _maybe_sync_deploys(self) -> None:
        if time.monotonic() - self._last_deploy_poll >= self.settings.deploy_poll_seconds:
            await self.sync_deploys()

    async def sync_folder(self) -> None:
        """Prepare added and changed scripts of the folder, drop removed ones."""
        async with self._folder_sync:
            await self._sync_folder()

    async def _sync_folder(self) -> None:
        found = await anyio.to_thread.run_sync(_scan, self.folder)
        keys = set()
        for path, stamp in found.items():
            key = f"folder:{path.stem}"
            keys.add(key)
            entry = self.entries.get(key)
            if entry is not None and entry.stamp == stamp:
                continue
            source = await anyio.to_thread.run_sync(_read, path)
            if source is None or not is_sdk_script(source):
                if entry is not None:
                    await self._drop(entry)
                keys.discard(key)
                continue
            digest = hashlib.sha256(source.encode()).hexdigest()
            if entry is not None and entry.digest == digest:
                entry.stamp = stamp
                continue
            entry = entry or ScriptEntry(key=key, path=path, origin="folder", name=path.stem)
            entry.stamp, entry.digest = stamp, digest
            self._schedule(entry, source)
        for key in [k for k, e in self.entries.items() if e.origin == "folder" and k not in keys]:
            await self._drop(self.entries[key])

    async def sync_deploys(self) -> None:
        """Serve the latest deployed version of each function."""
        self._last_deploy_poll = time.monotonic()
        if self.deploys is None:
            return
        async with self._deploy_sync:  # one at a time: the poll and a deploy may overlap
            try:
                latest = await anyio.to_thread.run_sync(self.deploys.latest)
            except Exception:
                logger.warning("reading the deployed function versions failed", exc_info=True)
                return
            await self._serve_deploys(latest)

    async def _serve_deploys(self, latest: dict[str, tuple[int, str | None]]) -> None:
        for name, (version, source) in latest.items():
            key = f"deployed:{name}"
            entry = self.entries.get(key)
            if entry is not None and entry.version == version:
                continue
            if source is None:
                if entry is not None:
                    await self._drop(entry)
                continue
            path = self.work / "deployed" / f"{name}.py"
            await anyio.to_thread.run_sync(_write, path, source)
            entry = entry or ScriptEntry(key=key, path=path, origin="deployed", name=name)
            entry.version, entry.digest = version, hashlib.sha256(source.encode()).hexdigest()
            self._schedule(entry, source)

    def _schedule(self, entry: ScriptEntry, source: str) -> None:
        if entry.task is not None and not entry.task.done():
            entry.task.cancel()
        self.entries[entry.key] = entry
        entry.state, entry.error, entry.traceback = "preparing", None, None
        if entry.function is None or entry.function.name == entry.name:
            self.registry.preparing(entry.name)
        entry.task = asyncio.ensure_future(self._prepare(entry, source, entry.function))

    async def _prepare(
        self, entry: ScriptEntry, source: str, previous: IsolatedFunction | None
    ) -> None:
        started = time.perf_counter()
        if previous is not None:
            entry.function = None
            if previous.name != entry.name:
                self.registry.remove(previous.name)
            await previous.pool.close()
        try:
            function = await self._load(entry, source)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            entry.state = "failed"
            entry.error = "".join(traceback.format_exception_only(exc)).strip()
            entry.traceback = getattr(exc, "traceback", None)
            self.registry.remove(entry.name)
            logger.error("function script %s failed: %s", entry.path, entry.error)
            return
        entry.function, entry.state = function, "ready"
        entry.prepared_seconds = round(time.perf_counter() - started, 3)
        logger.info("function %s ready (%s)", function.name, entry.path)

    async def _load(self, entry: ScriptEntry, source: str) -> IsolatedFunction:
        function = await self._environment(entry, source)
        worker = await function.start_worker()
        metadata = worker.metadata
        name = metadata["name"]
        try:
            self._check_name(entry, name)
        except Exception:
            await worker.kill()
            raise
        if name != entry.name:
            self.registry.remove(entry.name)
            entry.name = name
        function.name = name
        function.pool.add(worker)
        try:
            self.registry.put(isolated_spec(function, metadata, entry.path))
        except DuplicateFunctionError:
            await function.pool.kill_all()
            raise
        return function

    async def _environment(self, entry: ScriptEntry, source: str) -> IsolatedFunction:
        """Prepare the environment of ``entry``'s script (uv, in a worker thread)."""
        key = entry.key.replace(":", "-")
        async with self._uv:
            python = await anyio.to_thread.run_sync(
                lambda: prepare_environment(
                    key,
                    source,
                    work=self.work,
                    cwd=self.folder if self.folder.is_dir() else self.work,
                    timeout=self.settings.prepare_seconds,
                )
            )
        return IsolatedFunction(entry.name, python, entry.path, self.settings, self)

    def _check_name(self, entry: ScriptEntry, name: str) -> None:
        if entry.origin == "deployed" and name != entry.name:
            raise ScriptError(f"the script registers {name!r}, not {entry.name!r}")
        for other in self.entries.values():
            if other is not entry and other.state == "ready" and other.name == name:
                raise DuplicateFunctionError(
                    f"two functions are named {name!r}: {other.path} and {entry.path}"
                )

    async def _drop(self, entry: ScriptEntry) -> None:
        if entry.task is not None and not entry.task.done():
            entry.task.cancel()
        self.entries.pop(entry.key, None)
        self.registry.remove(entry.name)
        if entry.function is not None:
            await entry.function.pool.close()

    async def _reap(self) -> None:
        for entry in list(self.entries.values()):
            if entry.function is not None:
                await entry.function.pool.reap()

    async def close(self) -> None:
        """Stop preparing and kill every worker."""
        tasks = [e.task for e in self.entries.values() if e.task and not e.task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        pools = [e.function.pool for e in self.entries.values() if e.function is not None]
        await asyncio.gather(*(pool.kill_all() for pool in pools), return_exceptions=True)

    # Deploys ------------------------------------------------------------------------

    async def deploy(
        self, name: str, source: str, *, user_id: str | None, note: str | None = None
    ) -> dict[str, Any]:
        """Validate a script and make it the newest deployed version of ``name``; this
        process serves it at once, the others within ``function_deploy_poll_seconds``.

        Raises:
            ValidationError: it does not parse, has no valid metadata block, its environment
                cannot be prepared, it fails to load, or it registers another name (422).
            ConflictError: an in-process function has the name.
        """
        check_function_name(name)
        existing = self.registry.find(name)
        if existing is not None and existing.kind == "python":
            raise ConflictError(f"Function {name!r} is an in-process function")
        for entry in self.entries.values():
            if entry.origin == "folder" and entry.name == name and entry.state != "failed":
                raise ConflictError(f"Function {name!r} is a script of {self.folder}")
        await self._validate(name, source)
        assert self.deploys is not None
        row = await anyio.to_thread.run_sync(
            partial(self.deploys.add, name, source, user_id=user_id, note=note)
        )
        await self.sync_deploys()
        entry = self.entries.get(f"deployed:{name}")
        if entry is not None and entry.task is not None:
            await asyncio.gather(entry.task, return_exceptions=True)
        return row

    async def rollback(self, name: str, version: int, *, user_id: str | None) -> dict[str, Any]:
        """Deploy an older version's source again, as a new version.

        Raises:
            NotFoundError: no such version.
        """
        assert self.deploys is not None
        source = await anyio.to_thread.run_sync(self.deploys.source, name, version)
        return await self.deploy(name, source, user_id=user_id, note=f"rollback to {version}")

    async def undeploy(self, name: str, *, user_id: str | None) -> dict[str, Any]:
        """Stop serving the deployed function ``name`` (a removal version).

        Raises:
            NotFoundError: ``name`` is not deployed.
        """
        assert self.deploys is not None
        latest = await anyio.to_thread.run_sync(self.deploys.latest)
        if latest.get(name, (0, None))[1] is None:
            raise NotFoundError(f"Function {name!r} is not deployed")
        row = await anyio.to_thread.run_sync(
            partial(self.deploys.add, name, None, user_id=user_id, note="removed")
        )
        await self.sync_deploys()
        return row

    async def _validate(self, name: str, source: str) -> None:
        try:
            ast.parse(source)
        except SyntaxError as exc:
            raise ValidationError.for_field("source", f"line {exc.lineno}: {exc.msg}") from None
        path = self.work / "staging" / f"{name}.py"
        await anyio.to_thread.run_sync(_write, path, source)
        entry = ScriptEntry(key=f"deployed:{name}", path=path, origin="deployed", name=name)
        try:
            function = await self._environment(entry, source)
            worker = await function.start_worker()
        except (ScriptError, PrepareError, WorkerStartError) as exc:
            raise ValidationError.for_field("source", str(exc)) from None
        await worker.kill()
        registered = worker.metadata["name"]
        if registered != name:
            message = f"the script registers {registered!r}, not {name!r}"
            raise ValidationError.for_field("source", message)

    def listing(self) -> list[dict[str, Any]]:
        """Every script and its state, for admins."""
        return [entry.public() for entry in sorted(self.entries.values(), key=lambda e: e.name)]


def _scan(folder: Path) -> dict[Path, tuple[int, int]]:
    if not folder.is_dir():
        return {}
    found = {}
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith("_"):
            continue
        try:
            stat = path.stat()
        except OSError:
            continue
        found[path] = (stat.st_mtime_ns, stat.st_size)
    return found


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _write(path: Path, source: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text(encoding="utf-8") != source:
        path.write_text(source, encoding="utf-8")
