"""The errors of functions, for the function's author and for TinyBase.

    FunctionError (400; any 4xx)    raised by a function: its caller gets status and detail
    FunctionTimeoutError (504)      the call ran past ``function_timeout_seconds``
    DuplicateFunctionError          two functions with one name (start-up fails)
    UnknownFunctionError (404)      no function of that name

A function may also raise ``ValueError``: its caller gets a 400 with the message. Anything
else is a 500 with a generic detail (the exception goes to the call record and the log).
"""

from __future__ import annotations

from typing import Any

from tinybase.errors import NotFoundError, TinyBaseError

__all__ = [
    "DuplicateFunctionError",
    "FunctionError",
    "FunctionTimeoutError",
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
