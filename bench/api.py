"""What the harness knows of one HTTP API under test: its requests and its response shapes.

Each system module (``pocketbase_system``, ``tinybase_system``, ``ceiling_system``) builds one
``Api`` per HTTP family it serves; the workload checks and wrk runs only use this interface.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

__all__ = [
    "NEW_TITLE",
    "Api",
    "Flat",
    "Req",
    "Setup",
    "StepFailed",
    "expect",
    "needles",
    "seed_rows",
]

Flat = dict[str, Any]
"""A record as the checks see it: ``id``, ``title``, ``score``, ``done``, ``created``."""

NEW_TITLE = "bench-new"


@dataclass(frozen=True)
class Req:
    """One workload's request: ``{id}`` in ``path`` and ``%d`` in ``body`` vary per request."""

    method: str
    path: str
    body: str = ""


@dataclass
class Api:
    """One HTTP family of one running system, seeded and authenticated."""

    system: str
    family: str
    base_url: str
    headers: dict[str, str]
    requests: dict[str, Req]
    ids: list[str]
    read_one: Callable[[Any], Flat]
    read_list: Callable[[Any], list[Flat]]
    created_id: Callable[[Any], str]
    cores: int = 1
    authenticated: bool = True
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Setup:
    """Where and how a system is run: a private work dir, the record count, the venv's bin."""

    workdir: Path
    records: int
    bin_dir: Path
    cpu: int | None = 0


class StepFailed(RuntimeError):
    """A set-up or check request got an unexpected answer (endpoint, status and body kept)."""

    def __init__(self, step: str, response: httpx.Response) -> None:
        request = response.request
        self.step = step
        self.endpoint = f"{request.method} {request.url.path}"
        self.status = response.status_code
        self.body = response.text[:600]
        super().__init__(f"{step}: {self.endpoint} -> {self.status} {self.body}")


def expect(response: httpx.Response, step: str) -> Any:
    """The JSON body of a 2xx response (None when empty).

    Raises:
        StepFailed: any other status, or a body that is not JSON.
    """
    if not 200 <= response.status_code < 300:
        raise StepFailed(step, response)
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError as exc:
        raise StepFailed(f"{step} (body is not JSON)", response) from exc


def seed_rows(count: int) -> list[Flat]:
    """The benchmark's records, the same in every system."""
    return [
        {
            "title": "needle" if i % 1000 == 7 else f"item-{i}",
            "score": i * 7919 % 1000,
            "done": i % 2 == 0,
        }
        for i in range(count)
    ]


def needles(count: int) -> int:
    """How many seeded records are titled "needle"."""
    return sum(1 for i in range(count) if i % 1000 == 7)
