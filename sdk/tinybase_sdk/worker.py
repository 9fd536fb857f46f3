"""The worker process: ``python -m tinybase_sdk.worker SCRIPT IN_FD OUT_FD OUTPUT_LIMIT``.

TinyBase starts it with the script environment's interpreter. It captures ``sys.stdout``
and ``sys.stderr`` before the script runs (so even a logging handler the script sets up at
import time writes into the capture), runs the script, announces the registered function
(``hello``) and then serves calls one at a time until the server closes the pipe. What a
call prints goes back with its result, bounded to OUTPUT_LIMIT characters.
"""

from __future__ import annotations

import io
import os
import runpy
import sys
import traceback
import uuid
from typing import Any, BinaryIO

import pydantic

from tinybase_sdk import protocol
from tinybase_sdk.client import CallContext, Client, PipeTransport
from tinybase_sdk.registry import FunctionError, RegisteredFunction, registered

__all__ = ["CapturedOutput", "main"]

RUN_NAME = "__tinybase_worker__"
"""The script's ``__name__`` in a worker: its ``if __name__ == "__main__"`` block is skipped."""
active = False
"""Whether this process is a worker (``cli.run()`` then does nothing)."""


class CapturedOutput(io.TextIOBase):
    """``sys.stdout`` and ``sys.stderr`` of a worker: a call's text, bounded; outside a
    call, the process's own stderr (which TinyBase logs)."""

    def __init__(self, limit: int, fallback: Any) -> None:
        self._limit = limit
        self._fallback = fallback
        self._parts: list[str] | None = None
        self._size = 0
        self._truncated = False

    def start(self) -> None:
        self._parts, self._size, self._truncated = [], 0, False

    def take(self) -> str:
        parts, self._parts = self._parts or [], None
        text = "".join(parts)
        return text + "\n[output truncated]\n" if self._truncated else text

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def write(self, text: str) -> int:
        if self._parts is None:
            self._fallback.write(text)
            self._fallback.flush()
            return len(text)
        room = self._limit - self._size
        if len(text) > room:
            self._truncated = True
            text = text[: max(room, 0)]
        self._parts.append(text)
        self._size += len(text)
        return len(text)


class Worker:
    """Serves the calls of one function over the pipe."""

    def __init__(self, function: RegisteredFunction, inbox: BinaryIO, outbox: BinaryIO) -> None:
        self.function = function
        self._inbox = inbox
        self._outbox = outbox
        self.client = Client(PipeTransport(self._exchange))

    def send(self, message: dict[str, Any]) -> None:
        self._outbox.write(protocol.encode(message))
        self._outbox.flush()

    def _exchange(self, request: dict[str, Any]) -> dict[str, Any]:
        self.send(request)
        answer = protocol.read_frame(self._inbox)
        if answer is None or answer["type"] != "response" or answer.get("id") != request["id"]:
            raise protocol.ProtocolError("the server did not answer the API request")
        return answer

    def serve(self, output: CapturedOutput) -> None:
        while True:
            message = protocol.read_frame(self._inbox)
            if message is None:
                return
            if message["type"] != "call":
                raise protocol.ProtocolError(f"unexpected {message['type']!r} frame")
            self.client.begin(message["token"], _context(message["context"]))
            output.start()
            try:
                result = self.call(message["payload"], message["max_result_bytes"])
            finally:
                self.client.end()
                printed = output.take()
            self.send({"type": "result", "id": message["id"], "printed": printed, **result})
            if result.get("kind") == "memory":
                os._exit(3)  # the next call gets a fresh worker, not a damaged heap

    def call(self, payload: Any, max_result_bytes: int) -> dict[str, Any]:
        function = self.function
        try:
            value = function.input_adapter.validate_python(payload)
        except pydantic.ValidationError as exc:
            return {"ok": False, "kind": "invalid", "errors": _field_errors(exc)}
        try:
            args = (self.client, value) if function.takes_payload else (self.client,)
            result = function.handler(*args)
            adapter = function.output_adapter
            output = adapter.dump_python(adapter.validate_python(result), mode="json")
            size = len(protocol.encode({"type": "value", "value": output}))
        except MemoryError:
            return {"ok": False, "kind": "memory", "error_type": "MemoryError"}
        except FunctionError as exc:
            return _refused(exc.status_code, exc.detail, exc)
        except ValueError as exc:
            if isinstance(exc, pydantic.ValidationError):
                return _failed(exc)
            return _refused(400, str(exc), exc)
        except Exception as exc:
            return _failed(exc)
        if size > max_result_bytes:
            return {
                "ok": False,
                "kind": "too_large",
                "error_type": "ResultTooLargeError",
                "message": f"the result is {size} bytes, past the limit of {max_result_bytes}",
            }
        return {"ok": True, "value": output}


def _context(context: dict[str, Any]) -> CallContext:
    user_id = context.get("user_id")
    return CallContext(
        function_name=context["function_name"],
        request_id=uuid.UUID(context["request_id"]),
        user_id=None if user_id is None else uuid.UUID(user_id),
        is_admin=bool(context.get("is_admin")),
        trigger_type=context.get("trigger_type", "manual"),
    )


def _refused(status: int, detail: Any, exc: BaseException) -> dict[str, Any]:
    return {
        "ok": False,
        "kind": "refused",
        "status": status,
        "detail": detail,
        "error_type": type(exc).__name__,
        "message": str(detail),
        "traceback": "".join(traceback.format_exception(exc)),
    }


def _failed(exc: BaseException) -> dict[str, Any]:
    return {
        "ok": False,
        "kind": "error",
        "error_type": type(exc).__name__,
        "message": str(exc),
        "traceback": "".join(traceback.format_exception(exc)),
    }


def _field_errors(exc: pydantic.ValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": ["body", *error["loc"]], "msg": error["msg"], "type": error["type"]}
        for error in exc.errors(include_url=False)
    ]


def main(argv: list[str]) -> int:
    """Run the worker (see the module docstring); the exit status."""
    global active
    script, in_fd, out_fd, limit = argv[0], int(argv[1]), int(argv[2]), int(argv[3])
    active = True
    inbox = os.fdopen(in_fd, "rb")
    outbox = os.fdopen(out_fd, "wb")
    output = CapturedOutput(limit, sys.__stderr__)
    sys.stdout = sys.stderr = output
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    sys.argv = [script]
    try:
        runpy.run_path(script, run_name=RUN_NAME)
        function = registered()
        if function is None:
            raise LookupError("the script registers no function (@tinybase_sdk.register)")
        hello = {"type": "hello", "metadata": function.metadata()}
    except BaseException as exc:
        error = "".join(traceback.format_exception_only(exc)).strip()
        trace = "".join(traceback.format_exception(exc))
        outbox.write(protocol.encode({"type": "hello", "error": error, "traceback": trace}))
        outbox.flush()
        return 1
    worker = Worker(function, inbox, outbox)
    worker.send(hello)
    worker.serve(output)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
