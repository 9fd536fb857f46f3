"""Calling a function: validate, record, run within a time limit, and map the outcome.

A call, in order: the caller's auth level is checked and the payload validated (a 401, 403
or 422 is not a call: nothing is recorded); the ``on_function_call`` hooks run; the call's
record is opened; the function runs (sync ones in a worker thread, async ones awaited) with
its ``Context``; its output is validated; its write
transaction commits or rolls back (:mod:`tinybase.functions.transaction`); the call record
gets the outcome; the ``on_function_complete`` hooks are queued for later.

Sync functions run in a pool of ``function_threads`` worker threads fed from one queue
(:class:`~tinybase.records.executor.Lane`, as the database executor's): a worker takes the
calls already waiting, up to :data:`POOL_BATCH`, runs them one after the other, and hands
their results back to the event loop with one wake-up. Under load that is one thread hop
for several calls instead of one each; measured on W7 (bench/, a loaded machine) it up to
doubled the calls per second of ``anyio.to_thread`` (a hop per call). The price: a
call may wait behind the slow calls batched with it on the same worker (its time limit
counts from the start of the call, so a wait past it is a 504, and the call never runs).
"""

from __future__ import annotations

import logging
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

import anyio
import anyio.to_thread
import pydantic
from pydantic_core import PydanticSerializationError
from sqlmodel import Session

from tinybase.auth.principal import Principal
from tinybase.data import Database
from tinybase.errors import TinyBaseError, ValidationError
from tinybase.extensions.events import FunctionCallEvent, FunctionCompleteEvent
from tinybase.extensions.hooks import HookKind
from tinybase.functions.calls import CallRecords, OpenCall
from tinybase.functions.context import Context, TriggerType
from tinybase.functions.errors import FunctionError, FunctionTimeoutError, IsolatedCallError
from tinybase.functions.isolated_calls import IsolatedFunctionSpec
from tinybase.functions.registry import FunctionSpec
from tinybase.functions.transaction import FunctionSession, FunctionTransaction
from tinybase.records.executor import Lane, run_each
from tinybase.utils import utcnow, uuid7

__all__ = ["FunctionCallFailed", "FunctionHooks", "FunctionRunner"]

logger = logging.getLogger("tinybase.functions")

POOL_BATCH = 8
"""The most sync calls a worker thread takes from the queue at once (see the module)."""


class FunctionHooks(Protocol):
    """What the runner needs of the instance's hooks (``tinybase.extensions.dispatch``)."""

    def has(self, kind: HookKind, target: str | None = None) -> bool: ...

    async def run(
        self, kind: HookKind, event: object | None = None, target: str | None = None
    ) -> None: ...

    def run_later(self, kind: HookKind, event: object, target: str | None = None) -> None: ...


class FunctionCallFailed(TinyBaseError):
    """A call that ran and failed; its caller gets ``detail``, ``error_type``, ``call_id``.

    A 4xx carries the function's own message (``ValueError``, :class:`FunctionError`, a
    TinyBase client error); a 5xx only a generic one: the exception and its traceback are
    in the call record, for admins.
    """

    def __init__(self, status_code: int, detail: Any, error_type: str, call_id: uuid.UUID) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.error_type = error_type
        self.call_id = call_id

    def public(self) -> dict[str, Any]:
        return {"detail": self.detail, "error_type": self.error_type, "call_id": self.call_id}


@dataclass(frozen=True)
class _Outcome:
    """How a call ended, as the caller and the call record see it."""

    status: int
    detail: Any
    error_type: str
    message: str
    traceback: str | None


SessionFactory = Callable[[FunctionTransaction], Session]


class FunctionRunner:
    """Runs an instance's functions (one per instance, ``AppState.functions.runner``).

    Args:
        db: the instance's database.
        calls: where call records go.
        bind_session: binds a new ``ctx.db`` session to the instance's services, with the
            call's transaction as its writer.
        timeout_seconds: each call's time limit.
        threads: how many sync functions run at once (the worker pool's limiter).
        hooks: the instance's hooks (None: no function hooks).
    """

    def __init__(
        self,
        *,
        db: Database,
        calls: CallRecords,
        bind_session: Callable[[Session, FunctionTransaction], Session],
        timeout_seconds: float,
        threads: int,
        hooks: FunctionHooks | None = None,
    ) -> None:
        self._db = db
        self._calls = calls
        self._bind_session = bind_session
        self.timeout_seconds = timeout_seconds
        self._pool = Lane("tinybase-function", threads, run_each, max_batch=POOL_BATCH)
        self.hooks = hooks

    def close(self) -> None:
        """Stop the worker threads once the calls already queued are done."""
        self._pool.close()

    def validate(self, spec: FunctionSpec, payload: Any) -> Any:
        """The payload as the function takes it.

        Raises:
            ValidationError: it does not fit the input type (422, FastAPI's shape).
        """
        try:
            return spec.input_adapter.validate_python(payload)
        except pydantic.ValidationError as exc:
            raise ValidationError(_field_errors(exc)) from None

    async def call(
        self,
        spec: FunctionSpec,
        payload: Any,
        *,
        principal: Principal,
        request: Any = None,
        trigger_type: TriggerType = "manual",
        trigger_id: uuid.UUID | None = None,
    ) -> Any:
        """Call ``spec`` with a JSON ``payload`` as ``principal``; return its output as JSON
        values (validated against the output type).

        Raises:
            AuthenticationError, PermissionDeniedError: the auth level refuses the caller.
            ValidationError: the payload does not fit the input type.
            FunctionCallFailed: the function raised, timed out or returned a bad output.
        """
        spec.check_caller(principal)
        value = self.validate(spec, payload)
        if isinstance(spec, IsolatedFunctionSpec):
            assert spec.runtime is not None
            with spec.runtime.manager.admit(spec, principal):  # 429 before it is a call
                return await self._call(
                    spec, payload, value, principal, request, trigger_type, trigger_id
                )
        return await self._call(spec, payload, value, principal, request, trigger_type, trigger_id)

    async def _call(
        self,
        spec: FunctionSpec,
        payload: Any,
        value: Any,
        principal: Principal,
        request: Any,
        trigger_type: TriggerType,
        trigger_id: uuid.UUID | None,
    ) -> Any:
        call_id, started = uuid7(), time.perf_counter()
        user_id = None if principal.user_id is None else uuid.UUID(principal.user_id)
        await self._before(spec, user_id, payload)
        record = self._calls.open(
            {
                "id": call_id,
                "function_name": spec.name,
                "user_id": user_id,
                "trigger_type": trigger_type,
                "trigger_id": trigger_id,
                "created_at": utcnow(),
            }
        )
        transaction = FunctionTransaction(
            self._db, partial(FunctionTimeoutError, spec.name, self.timeout_seconds)
        )
        session = FunctionSession(self._db.engine, transaction)
        self._bind_session(session, transaction)
        ctx = Context.model_construct(
            function_name=spec.name,
            trigger_type=trigger_type,
            trigger_id=trigger_id,
            request_id=call_id,
            user_id=user_id,
            is_admin=principal.is_admin,
            now=utcnow(),
            db=session,
            request=request,
        )
        outcome: _Outcome | None = None
        printed: str | None = None
        try:
            if isinstance(spec, IsolatedFunctionSpec):
                output, printed = await self._run_isolated(spec, ctx, value, principal)
            else:
                output = await self._run(spec, ctx, value, transaction, session)
        except Exception as exc:
            printed = getattr(exc, "printed", None)
            outcome = _outcome(exc)
        duration_ms = int((time.perf_counter() - started) * 1000)
        await self._record(record, duration_ms, outcome, printed)
        self._after(spec, user_id, duration_ms, outcome)
        if outcome is not None:
            raise FunctionCallFailed(outcome.status, outcome.detail, outcome.error_type, call_id)
        return output

    async def _run(
        self,
        spec: FunctionSpec,
        ctx: Context,
        value: Any,
        transaction: FunctionTransaction,
        session: FunctionSession,
    ) -> Any:
        args = (ctx, value) if spec.takes_payload else (ctx,)
        if not spec.is_async:
            job = partial(_run_sync, spec, args, transaction, session)
            try:
                with anyio.fail_after(self.timeout_seconds):
                    return await self._pool.submit(job)
            except TimeoutError:
                transaction.expire()  # the thread rolls back whenever the function returns
                raise FunctionTimeoutError(spec.name, self.timeout_seconds) from None
        committed = False
        try:
            try:
                with anyio.fail_after(self.timeout_seconds):
                    output = _dump(spec, await spec.handler(*args))
            except TimeoutError:
                transaction.expire()
                raise FunctionTimeoutError(spec.name, self.timeout_seconds) from None
            session.end()
            if transaction.started:
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(partial(transaction.finish, commit=True))
            committed = True
            return output
        finally:
            if not committed:
                session.end()
                if transaction.started:
                    # Shielded: a cancelled request must not leave the writer held.
                    with anyio.CancelScope(shield=True):
                        await anyio.to_thread.run_sync(partial(transaction.finish, commit=False))

    async def _run_isolated(
        self, spec: IsolatedFunctionSpec, ctx: Context, value: Any, principal: Principal
    ) -> tuple[Any, str | None]:
        """An isolated function's call in a worker process (its own time limit: past it the
        worker is killed)."""
        assert spec.runtime is not None
        try:
            with anyio.fail_after(self.timeout_seconds):
                return await spec.runtime.invoke(ctx, value, principal)
        except TimeoutError:
            raise FunctionTimeoutError(spec.name, self.timeout_seconds) from None

    async def _before(self, spec: FunctionSpec, user_id: uuid.UUID | None, payload: Any) -> None:
        hooks = self.hooks
        if hooks is not None and hooks.has(HookKind.FUNCTION_CALL, spec.name):
            body = payload if isinstance(payload, dict) else {"payload": payload}
            event = FunctionCallEvent(function_name=spec.name, user_id=user_id, payload=body)
            await hooks.run(HookKind.FUNCTION_CALL, event, target=spec.name)

    def _after(
        self,
        spec: FunctionSpec,
        user_id: uuid.UUID | None,
        duration_ms: int,
        outcome: _Outcome | None,
    ) -> None:
        hooks = self.hooks
        if hooks is None or not hooks.has(HookKind.FUNCTION_COMPLETE, spec.name):
            return
        event = FunctionCompleteEvent(
            function_name=spec.name,
            user_id=user_id,
            status="succeeded" if outcome is None else "failed",
            duration_ms=duration_ms,
            error_message=None if outcome is None else outcome.message,
            error_type=None if outcome is None else outcome.error_type,
        )
        hooks.run_later(HookKind.FUNCTION_COMPLETE, event, target=spec.name)

    async def _record(
        self,
        record: OpenCall,
        duration_ms: int,
        outcome: _Outcome | None,
        printed: str | None = None,
    ) -> None:
        await record.end(
            output=printed or None,
            status="succeeded" if outcome is None else "failed",
            duration_ms=duration_ms,
            error_message=None if outcome is None else outcome.message,
            error_type=None if outcome is None else outcome.error_type,
            error_traceback=None if outcome is None else outcome.traceback,
        )


def _run_sync(
    spec: FunctionSpec,
    args: tuple[Any, ...],
    transaction: FunctionTransaction,
    session: FunctionSession,
) -> Any:
    """A sync function in its worker thread, with its transaction from start to end."""
    if transaction.expired:  # it waited past its time limit: the caller has its 504
        raise FunctionTimeoutError(spec.name, 0)
    transaction.run_here()
    try:
        output = _dump(spec, spec.handler(*args))
    except BaseException:
        session.end()
        transaction.finish(commit=False)
        raise
    session.end()
    transaction.finish(commit=True)
    return output


def _dump(spec: FunctionSpec, result: Any) -> Any:
    """The function's result as JSON values, validated against its output type."""
    adapter = spec.output_adapter
    return adapter.dump_python(adapter.validate_python(result), mode="json")


_NOT_THE_CALLERS = (pydantic.ValidationError, PydanticSerializationError)
"""``ValueError`` subclasses that are the function's bug, not the caller's: an output that
does not fit its type or cannot be encoded is a 500 (its message stays in the record)."""


def _outcome(exc: Exception) -> _Outcome:
    """Map what a call raised to the caller's status and detail (the one place)."""
    error_type = type(exc).__name__
    trace = "".join(traceback.format_exception(exc))
    if isinstance(exc, IsolatedCallError):
        if exc.status >= 500:
            logger.error("isolated function failed (%s): %s", exc.error_type, exc.message)
        return _Outcome(exc.status, exc.detail, exc.error_type, exc.message, exc.remote_traceback)
    if isinstance(exc, FunctionError):
        return _Outcome(exc.status_code, exc.detail, error_type, str(exc.detail), trace)
    if isinstance(exc, FunctionTimeoutError):
        return _Outcome(exc.status_code, exc.detail, error_type, str(exc.detail), None)
    if isinstance(exc, TinyBaseError) and exc.status_code < 500:
        # A TinyBase client error from a service the function called (a 422 of a bad record,
        # a 404, a 409): the caller gets it as the service put it.
        return _Outcome(exc.status_code, exc.detail, error_type, str(exc.detail), trace)
    if isinstance(exc, ValueError) and not isinstance(exc, _NOT_THE_CALLERS):
        return _Outcome(400, str(exc), error_type, str(exc), trace)
    logger.error("function failed (%s)", error_type, exc_info=exc)
    return _Outcome(500, "Internal server error", error_type, str(exc), trace)


def _field_errors(exc: pydantic.ValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": ["body", *error["loc"]], "msg": error["msg"], "type": error["type"]}
        for error in exc.errors(include_url=False)
    ]
