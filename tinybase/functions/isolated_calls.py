"""Calling an isolated function: its registry entry, its limits, and one call in a worker.

:class:`IsolatedFunctionSpec` is what the registry holds for a ``tinybase_sdk`` script (its
metadata came from the script); its :class:`IsolatedFunction` keeps the environment's
interpreter and the pool of warm workers, and runs a call: a call token acting as the
caller, a worker from the pool, the ``call`` frame, the worker's API requests answered
through the loopback, the ``result`` frame mapped to the output or the error the caller
gets. :mod:`tinybase.functions.isolated` finds, prepares and follows the scripts.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from tinybase.auth.principal import Principal
from tinybase.errors import ValidationError
from tinybase.functions.context import Context
from tinybase.functions.errors import IsolatedCallError
from tinybase.functions.registry import FunctionSpec
from tinybase.functions.workers import (
    Worker,
    WorkerDied,
    WorkerPool,
    WorkerStartError,
    worker_environment,
)
from tinybase.utils import AuthLevel

if TYPE_CHECKING:
    from tinybase.functions.isolated import IsolatedFunctions

__all__ = [
    "IsolatedFunction",
    "IsolatedFunctionSpec",
    "IsolationSettings",
    "isolated_spec",
    "isolation_settings",
]


@dataclass(frozen=True)
class IsolationSettings:
    """The limits and environment of isolated functions (from the ``function_*`` config)."""

    timeout_seconds: float = 30.0
    workers_max: int = 4
    idle_seconds: float = 300.0
    start_seconds: float = 60.0
    memory_mb: int | None = 1024
    max_concurrent_calls: int = 64
    max_calls_per_user: int = 32
    max_result_bytes: int = 1_048_576
    output_limit_chars: int = 65_536
    prepare_seconds: float = 600.0
    env_allow: tuple[str, ...] = ()
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)
    watch: bool = True
    deploy_poll_seconds: float = 2.0


@dataclass(frozen=True, eq=False)
class IsolatedFunctionSpec(FunctionSpec):
    """A registry entry for an isolated function (its metadata came from the script)."""

    file: str = ""
    schemas: dict[str, Any] = field(default_factory=dict)
    runtime: IsolatedFunction | None = None

    kind = "isolated"

    @property
    def module(self) -> str:
        return self.file

    @property
    def place(self) -> str:
        return self.file

    def json_schema(self, role: str, ref_template: str = "#/$defs/{model}") -> dict[str, Any]:
        text = json.dumps(self.schemas[f"{role}_schema"])
        if ref_template != "#/$defs/{model}":
            text = text.replace('"#/$defs/', json.dumps(ref_template.split("{model}")[0])[:-1])
        return json.loads(text)

    def model_name(self, role: str) -> str | None:
        return self.schemas.get(f"{role}_model")


class IsolatedFunction:
    """One ready isolated function: its environment's interpreter, script and workers."""

    def __init__(
        self,
        name: str,
        python: Path,
        script: Path,
        settings: IsolationSettings,
        manager: IsolatedFunctions,
    ) -> None:
        self.name = name
        self.python = python
        self.script = script
        self._settings = settings
        self.manager = manager
        self.pool = WorkerPool(
            self.start_worker, max_workers=settings.workers_max, idle_seconds=settings.idle_seconds
        )
        self.running = 0

    async def start_worker(self) -> Worker:
        settings = self._settings
        allowed = {n: v for n in settings.env_allow if (v := os.environ.get(n)) is not None}
        secrets = settings.secrets.get(self.name, {})
        memory = None if settings.memory_mb is None else settings.memory_mb * 1024 * 1024
        return await Worker.start(
            self.name,
            self.python,
            self.script,
            environment=lambda home: worker_environment(allowed, secrets, home),
            memory_bytes=memory,
            output_limit=settings.output_limit_chars,
            start_seconds=settings.start_seconds,
        )

    async def invoke(
        self, ctx: Context, payload: Any, principal: Principal
    ) -> tuple[Any, str | None]:
        """Run one call in a worker: its output and what it printed.

        Raises:
            ValidationError: the payload does not fit the function's input model (422).
            IsolatedCallError: the function raised, the worker died or ran out of memory.
        """
        manager, settings = self.manager, self._settings
        token = manager.tokens.issue(principal, seconds=settings.timeout_seconds)
        worker: Worker | None = None
        healthy = False
        try:
            worker = await self.pool.acquire()
            message = {
                "type": "call",
                "id": str(ctx.request_id),
                "token": token,
                "payload": payload,
                "max_result_bytes": settings.max_result_bytes,
                "context": {
                    "function_name": self.name,
                    "request_id": str(ctx.request_id),
                    "user_id": None if ctx.user_id is None else str(ctx.user_id),
                    "is_admin": ctx.is_admin,
                    "trigger_type": ctx.trigger_type,
                },
            }
            try:
                result = await worker.call(message, manager.dispatch)
            except WorkerDied as exc:
                raise IsolatedCallError(
                    500,
                    "The function's worker process died during the call",
                    error_type="WorkerDied",
                    message=f"the worker process died during the call: {exc}",
                ) from None
            healthy = result.get("kind") != "memory"
            return _result(self.name, result, settings)
        except WorkerStartError as exc:
            raise IsolatedCallError(
                500,
                "Internal server error",
                error_type="WorkerStartError",
                message=str(exc),
                remote_traceback=exc.traceback,
            ) from None
        finally:
            manager.tokens.revoke(token)  # refused from now on, even by a lingering worker
            if worker is not None:
                with anyio.CancelScope(shield=True):
                    await self.pool.release(worker, healthy=healthy)


def _result(name: str, result: dict[str, Any], settings: IsolationSettings) -> tuple[Any, str]:
    """The output of a worker's ``result`` frame, or the error it reports."""
    printed = result.get("printed") or ""
    if result.get("ok"):
        return result.get("value"), printed
    kind = result.get("kind")
    if kind == "invalid":
        raise ValidationError(result["errors"])
    if kind == "refused":
        status, detail = result["status"], result["detail"]
    elif kind == "memory":
        status, detail = (
            500,
            f"Function {name!r} ran past its memory limit ({settings.memory_mb} MiB)",
        )
    elif kind == "too_large":
        status, detail = (
            500,
            f"Function {name!r} returned a result past {settings.max_result_bytes} bytes",
        )
    else:
        status, detail = 500, "Internal server error"
    raise IsolatedCallError(
        status,
        detail,
        error_type=result.get("error_type", "Error"),
        message=result.get("message") or str(detail),
        remote_traceback=result.get("traceback"),
        printed=printed,
    )


def isolated_spec(
    function: IsolatedFunction, metadata: dict[str, Any], path: Path
) -> IsolatedFunctionSpec:
    async def handler(ctx: Context, payload: Any) -> Any:
        """The function as an async callable (the runner calls ``invoke`` itself, to keep
        the printed output and hold the caller's exact principal)."""
        user_id = None if ctx.user_id is None else str(ctx.user_id)
        output, _ = await function.invoke(ctx, payload, Principal(user_id, ctx.is_admin))
        return output

    return IsolatedFunctionSpec(
        name=function.name,
        handler=handler,
        description=metadata.get("description"),
        auth=AuthLevel(metadata.get("auth", "auth")),
        tags=tuple(metadata.get("tags") or ()),
        input_type=Any,
        output_type=Any,
        is_async=True,
        file=str(path),
        schemas=metadata,
        runtime=function,
    )


def isolation_settings(config: Any) -> IsolationSettings:
    """The :class:`IsolationSettings` of a :class:`~tinybase.settings.Config`."""
    return IsolationSettings(
        timeout_seconds=config.function_timeout_seconds,
        workers_max=config.function_workers_max,
        idle_seconds=config.function_worker_idle_seconds,
        start_seconds=config.function_worker_start_seconds,
        memory_mb=config.function_memory_limit_mb,
        max_concurrent_calls=config.function_max_concurrent_calls,
        max_calls_per_user=config.function_max_calls_per_user,
        max_result_bytes=config.function_max_result_bytes,
        output_limit_chars=config.function_output_limit_chars,
        prepare_seconds=config.function_prepare_seconds,
        env_allow=tuple(config.function_env_allow),
        secrets=dict(config.function_secrets),
        watch=config.function_watch,
        deploy_poll_seconds=config.function_deploy_poll_seconds,
    )
