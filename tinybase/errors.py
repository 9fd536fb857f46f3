"""TinyBase's domain errors.

Services raise these where a problem is detected; the API layer renders them once, in one
exception handler, as ``{"detail": ...}`` with the class's ``status_code``. Services never
raise ``HTTPException``.

    TinyBaseError (500)
    ├── BadRequestError (400)
    ├── AuthenticationError (401)
    ├── PermissionDeniedError (403)
    ├── NotFoundError (404)
    ├── ConflictError (409)
    ├── PayloadTooLargeError (413)
    ├── ValidationError (422)
    ├── RateLimitedError (429)
    └── StorageError (503)
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitedError",
    "StorageError",
    "TinyBaseError",
    "ValidationError",
]


class TinyBaseError(Exception):
    """Base of every TinyBase error; ``detail`` is safe to show to the client."""

    status_code: int = 500
    headers: dict[str, str] | None = None

    def __init__(self, detail: Any = "Internal server error") -> None:
        super().__init__(detail)
        self.detail = detail


class BadRequestError(TinyBaseError):
    """The request is malformed (bad query parameter, bad cursor, bad body shape)."""

    status_code = 400


class AuthenticationError(TinyBaseError):
    """No credentials, or credentials that are invalid, expired or of the wrong kind."""

    status_code = 401
    headers = {"WWW-Authenticate": "Bearer"}

    def __init__(self, detail: Any = "Not authenticated") -> None:
        super().__init__(detail)


class PermissionDeniedError(TinyBaseError):
    """The caller is known but an ACL or access rule denies the operation."""

    status_code = 403

    def __init__(self, detail: Any = "Permission denied") -> None:
        super().__init__(detail)


class NotFoundError(TinyBaseError):
    """The resource does not exist, or the caller may not know that it exists."""

    status_code = 404

    def __init__(self, detail: Any = "Not found") -> None:
        super().__init__(detail)


class ConflictError(TinyBaseError):
    """The request conflicts with the current state (a taken email, a duplicate key)."""

    status_code = 409


class PayloadTooLargeError(TinyBaseError):
    """The request carries more than a limit allows (body size, bulk size)."""

    status_code = 413


class ValidationError(TinyBaseError):
    """The input is well-formed but invalid; ``detail`` is a message or a list of field errors.

    Field errors use FastAPI's shape: ``[{"loc": [...], "msg": "...", "type": "..."}]``.
    """

    status_code = 422

    @classmethod
    def for_field(cls, field: str, message: str, *, kind: str = "value_error") -> ValidationError:
        """A validation error about one named field, in FastAPI's list shape."""
        return cls([{"loc": ["body", field], "msg": message, "type": kind}])


class RateLimitedError(TinyBaseError):
    """Too many attempts in a short time; retry later."""

    status_code = 429


class StorageError(TinyBaseError):
    """The file store failed (unreachable, refused, full); the cause goes to the log."""

    status_code = 503

    def __init__(self, detail: Any = "file storage is unavailable") -> None:
        super().__init__(detail)
