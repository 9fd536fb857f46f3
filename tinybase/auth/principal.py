"""Who is asking: the caller identity every service receives from the API layer."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ANONYMOUS", "SYSTEM", "Principal"]


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller, taken from a verified access token (or nobody).

    ``user_id`` is the canonical UUID text of the user, ``None`` for anonymous callers and
    for TinyBase's own code. Admins bypass ACLs and access rules.
    """

    user_id: str | None
    is_admin: bool = False
    email: str | None = None

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None


ANONYMOUS = Principal(user_id=None)
"""A caller without credentials."""

SYSTEM = Principal(user_id=None, is_admin=True)
"""TinyBase's own code (services called from Python, functions' internal API): no rules apply."""
