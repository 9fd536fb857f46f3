"""The errors of functions, for the function's author and for TinyBase.

    FunctionError (400; any 4xx)    raised by a function: its caller gets status and detail
    FunctionTimeoutError (504)      the call ran past ``function_timeout_seconds``
    IsolatedCallError (any)         an isolated function failed in its worker process
    FunctionPreparingError (503)    an isolated function's environment is being prepared
    FunctionBusyError (429)         too many calls of one function, or by one user, at once
    DuplicateFunctionError          two functions with one name (start-up fails)
    UnknownFunctionError (404)      no function of that name

A function may also raise ``ValueError``: its caller gets a 400 with the message. Anything
else is a 500 with a generic detail (the exception goes to the call record and the log).
"""

from __future__ import annotations

from typing import Any

from tinybase.errors import NotFoundError, RateLimitedError, TinyBaseError

__all__ = [
    "DuplicateFunctionError",
    "FunctionBusyError",
    "FunctionError",
    "FunctionPreparingError",
    "FunctionTimeoutError",
    "IsolatedCallError",
    "UnknownFunctionError",
]


class FunctionError(Exception):
    """Raise it in a function to answer its caller with ``status_code`` and ``detail``.

    Args:
        status_code: a client error status (400-499); 400 by default.
        detail: what the caller reads (a message, or any JSON value); keep it safe to show.

    Raises:
        ValueError: ``status_code`` is not a 4xx status.
    """

    def __init__(self, status_code: int = 400, detail: Any = "Bad request") -> None:
        if not 400 <= status_code <= 499:
            raise ValueError(f"a FunctionError's status must be 4xx, not {status_code}")
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail


class FunctionTimeoutError(TinyBaseError):
    """The call ran past its time limit; its writes are rolled back."""

    status_code = 504

    def __init__(self, name: str, seconds: float) -> None:
        super().__init__(f"Function {name!r} timed out after {seconds:g} s")


class DuplicateFunctionError(Exception):
    """Two functions were registered with one name; the message names both places."""


class UnknownFunctionError(NotFoundError):
    """No function of that name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"Function {name!r} not found")


class IsolatedCallError(Exception):
    """An isolated function's call failed in (or with) its worker process.

    Attributes:
        status: the caller's status; detail: what the caller reads (generic for a 5xx
        unless the cause is the caller's to know: memory, result size);
        error_type, message, remote_traceback: for the call record (admins);
        printed: what the call printed before it failed.
    """

    def __init__(
        self,
        status: int,
        detail: Any,
        *,
        error_type: str,
        message: str,
        remote_traceback: str | None = None,
        printed: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail
        self.error_type = error_type
        self.message = message
        self.remote_traceback = remote_traceback
        self.printed = printed


class FunctionPreparingError(TinyBaseError):
    """The function's environment is being prepared; retry in a moment."""

    status_code = 503

    def __init__(self, name: str, retry_after: int = 2) -> None:
        super().__init__(f"Function {name!r} is being prepared; retry shortly")
        self.headers = {"Retry-After": str(retry_after)}


class FunctionBusyError(RateLimitedError):
    """Too many calls of one function, or by one caller, are running at once."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.headers = {"Retry-After": "1"}
