"""Per-call tokens: what an isolated function's ``client`` authenticates with.

A token is random (not a JWT) and lives only in the memory of the process that runs the
call: checking one is a dict lookup, never a database read. It acts as the caller, expires
with the call's time limit, and is dropped the moment the call ends, so a worker that keeps
it past its call holds nothing. The worker's API requests come back over its own pipe to
this very process (``tinybase_sdk.client``), so no other process ever needs to know it,
however many processes share the port.
"""

from __future__ import annotations

import secrets
import time

from tinybase.auth.principal import Principal

__all__ = ["CALL_TOKEN_PREFIX", "CallTokens"]

CALL_TOKEN_PREFIX = "tbcall_"


class CallTokens:
    """The live call tokens of this process."""

    def __init__(self) -> None:
        self._live: dict[str, tuple[Principal, float]] = {}

    def issue(self, principal: Principal, *, seconds: float) -> str:
        """A new token acting as ``principal`` for at most ``seconds``."""
        token = CALL_TOKEN_PREFIX + secrets.token_urlsafe(32)
        self._live[token] = (principal, time.monotonic() + seconds)
        return token

    def revoke(self, token: str) -> None:
        """The call is over: refuse the token from now on."""
        self._live.pop(token, None)

    def principal(self, token: str) -> Principal | None:
        """Who a live token acts as; None for an unknown, ended or expired one."""
        entry = self._live.get(token)
        if entry is None:
            return None
        principal, deadline = entry
        if time.monotonic() >= deadline:
            self._live.pop(token, None)
            return None
        return principal

    def __len__(self) -> int:
        return len(self._live)
