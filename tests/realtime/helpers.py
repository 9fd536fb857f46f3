"""Helpers of the realtime tests: a reader of SSE streams in a thread, users, a server."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = ["ADMIN", "PASSWORD", "SseReader", "User", "login", "register", "sse"]

PASSWORD = "correct horse battery"
ADMIN = "admin@example.com"
SERVER_ENV = {
    "TINYBASE_AUTH_PASSWORD_TIME_COST": "1",
    "TINYBASE_AUTH_PASSWORD_MEMORY_KIB": "1024",
    "TINYBASE_AUTH_PASSWORD_PARALLELISM": "1",
    "TINYBASE_AUTH_REVOCATION_POLL_SECONDS": "0.1",
}


@dataclass(frozen=True)
class User:
    id: str
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def register(base: str, email: str) -> User:
    response = httpx.post(f"{base}/api/auth/register", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    return login(base, email)


def login(base: str, email: str) -> User:
    response = httpx.post(f"{base}/api/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    body = response.json()
    return User(body["user"]["id"], email, body["access_token"])


class SseReader:
    """The frames of an open SSE response, read in a thread: ``data:`` lines as JSON,
    comment lines as ``":"``-prefixed text."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.frames: queue.Queue[Any] = queue.Queue()
        self.raw = bytearray()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        buffer = b""
        try:
            for chunk in self.response.iter_raw():
                self.raw += chunk
                buffer += chunk
                while b"\n\n" in buffer:
                    frame, buffer = buffer.split(b"\n\n", 1)
                    text = frame.decode()
                    if text.startswith("data: "):
                        self.frames.put(json.loads(text[6:]))
                    else:
                        self.frames.put(text)
        except (httpx.HTTPError, RuntimeError):
            pass
        self.frames.put(None)  # the end of the stream

    def next(self, timeout: float = 5.0, *, skip_pings: bool = True) -> Any:
        """The next frame (None: the stream ended); raises queue.Empty after ``timeout``."""
        while True:
            frame = self.frames.get(timeout=timeout)
            if not (skip_pings and isinstance(frame, str) and frame.startswith(":")):
                return frame

    def nothing_within(self, seconds: float) -> bool:
        """True when no data frame arrives within ``seconds``."""
        try:
            frame = self.next(seconds)
        except queue.Empty:
            return True
        raise AssertionError(f"unexpected frame {frame!r}")


@contextmanager
def sse(
    client: httpx.Client, path: str, headers: dict[str, str] | None = None
) -> Iterator[SseReader]:
    """Open an SSE stream (the subscription exists once this is entered)."""
    with client.stream("GET", path, headers=headers or {}) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        yield SseReader(response)
