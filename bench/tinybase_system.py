"""TinyBase (``tinybase serve``) over a SQLite file in a private temp dir, seeded.

Set-up as a user would do it: an admin with ``tinybase admin add``, the ``bench`` collection
through ``POST /api/collections`` with ``owner`` presets for list, read, create and update
(``index: true`` on ``score`` and ``title``), one user registered through
``POST /api/auth/register``, and the rows bulk-created through the TrailBase family (JSON
arrays of up to 1024 objects). Two Apis are yielded, one per HTTP family, sharing the data.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from api import NEW_TITLE, Api, Flat, Req, Setup, StepFailed, expect, seed_rows
from procs import LOOPBACK, free_port, server

__all__ = ["Seeded", "running", "seed_tinybase"]

ADMIN = ("bench-admin@tinybase.dev", "bench-admin-password")
USER = ("bench-user@tinybase.dev", "bench-user-password")
CORE = "/api/collections/bench/records"
TRAIL = "/api/records/v1/bench"
BULK_SIZE = 1024
ACCESS = {"list": "owner", "read": "owner", "create": "owner", "update": "owner"}
COLLECTION = {
    "name": "bench",
    "label": "Bench",
    "schema": {
        "fields": [
            {"name": "title", "type": "string", "index": True},
            {"name": "score", "type": "integer", "index": True},
            {"name": "done", "type": "boolean"},
        ]
    },
    "options": {"access": {**ACCESS, "delete": "admin"}},
}


ECHO_FUNCTION = """\
from pydantic import BaseModel

from tinybase.functions import Context, register


class Echo(BaseModel):
    message: str


class Echoed(BaseModel):
    echoed: str


@register(name="echo", auth="auth", description="W7: say it back")
def echo(ctx: Context, payload: Echo) -> Echoed:
    return Echoed(echoed=payload.message)
"""


SDK_ECHO_FUNCTION = """\
# /// script
# dependencies = ["tinybase-sdk"]
# ///
from pydantic import BaseModel

from tinybase_sdk import register
from tinybase_sdk.cli import run


class Echo(BaseModel):
    message: str


class Echoed(BaseModel):
    echoed: str


@register(name="echo_sdk", auth="auth", description="W8: say it back, from a worker")
def echo_sdk(client, payload: Echo) -> Echoed:
    return Echoed(echoed=payload.message)


if __name__ == "__main__":
    run()
"""


def write_functions(workdir: Path) -> None:
    """The functions folder of the instance: W7's echo function and W8's SDK echo."""
    folder = workdir / "functions"
    folder.mkdir(exist_ok=True)
    (folder / "echo.py").write_text(ECHO_FUNCTION)
    (folder / "echo_sdk.py").write_text(SDK_ECHO_FUNCTION)


def environment(workdir: Path) -> dict[str, str]:
    """Config for a quiet, private instance (no scheduler, no extensions, long tokens)."""
    return {
        "TINYBASE_DB_URL": f"sqlite:///{workdir / 'bench.db'}",
        "TINYBASE_LOG_LEVEL": "warning",
        "TINYBASE_SCHEDULER_ENABLED": "false",
        "TINYBASE_EXTENSIONS_ENABLED": "false",
        "TINYBASE_FUNCTIONS_PATH": str(workdir / "functions"),
        "TINYBASE_AUTH_ACCESS_TOKEN_TTL_MINUTES": "240",
        # W8 runs as one user: wrk's reconnects after a timeout may briefly hold more calls
        # than its 32 connections; the per-user cap is a safety net, not what is measured.
        "TINYBASE_FUNCTION_MAX_CALLS_PER_USER": "1024",
        "TINYBASE_FUNCTION_MAX_CONCURRENT_CALLS": "1024",
    }


def login(client: httpx.Client, who: tuple[str, str]) -> str:
    body = {"email": who[0], "password": who[1]}
    return expect(client.post("/api/auth/login", json=body), f"login {who[0]}")["access_token"]


def prepare(client: httpx.Client) -> str:
    """Create the collection (as admin) and the user; return the user's access token."""
    admin = {"Authorization": f"Bearer {login(client, ADMIN)}"}
    expect(client.post("/api/collections", json=COLLECTION, headers=admin), "create collection")
    user = {"email": USER[0], "password": USER[1]}
    expect(client.post("/api/auth/register", json=user), "register user")
    return login(client, USER)


class BulkRefused(StepFailed):
    """The first bulk create was refused: nothing was written, another way may be tried."""


def seed_bulk(client: httpx.Client, headers: dict[str, str], count: int) -> list[str]:
    """Bulk-create through the TrailBase family, ``BULK_SIZE`` records per request.

    Raises:
        BulkRefused: the first request answered 404, 405, 415 or 422.
        StepFailed: any other non-2xx answer.
    """
    rows = seed_rows(count)
    ids: list[str] = []
    for start in range(0, count, BULK_SIZE):
        response = client.post(TRAIL, json=rows[start : start + BULK_SIZE], headers=headers)
        if not ids and response.status_code in (404, 405, 415, 422):
            raise BulkRefused("bulk create", response)
        ids.extend(expect(response, "bulk create")["ids"])
    return ids


def seed_parallel(client: httpx.Client, headers: dict[str, str], count: int) -> list[str]:
    """Fallback: one create per request on the collections family, 16 in flight."""

    def create(row: dict[str, Any]) -> str:
        return expect(client.post(CORE, json={"data": row}, headers=headers), "create")["id"]

    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(create, seed_rows(count)))


def listing(path: str, **params: str) -> str:
    return f"{path}?{urlencode({'limit': '20', **params})}"


def core_requests() -> dict[str, Req]:
    create = {"data": {"title": NEW_TITLE, "score": 1, "done": False}}
    desc = {"sort_order": "desc"}
    return {
        "W1": Req("POST", CORE, json.dumps(create)),
        "W2": Req("GET", CORE + "/{id}"),
        "W3": Req(
            "GET", listing(CORE, **{"filter[score][$gt]": "500", "sort_by": "score"}, **desc)
        ),
        "W4": Req("PATCH", CORE + "/{id}", '{"data": {"score": %d}}'),
        "W5": Req("GET", listing(CORE, title="needle")),
        "W6": Req("GET", listing(CORE, sort_by="created_at", **desc)),
        "W7": Req("POST", "/api/functions/echo", json.dumps({"message": "bench"})),
        "W8": Req("POST", "/api/functions/echo_sdk", json.dumps({"message": "bench"})),
    }


def trail_requests() -> dict[str, Req]:
    create = {"title": NEW_TITLE, "score": 1, "done": False}
    return {
        "W1": Req("POST", TRAIL, json.dumps(create)),
        "W2": Req("GET", TRAIL + "/{id}"),
        "W3": Req("GET", listing(TRAIL, **{"filter[score][$gt]": "500", "order": "-score"})),
        "W4": Req("PATCH", TRAIL + "/{id}", '{"score": %d}'),
        "W5": Req("GET", listing(TRAIL, **{"filter[title][$eq]": "needle"})),
        "W6": Req("GET", listing(TRAIL, order="-created_at")),
    }


def core_flat(record: Any) -> Flat:
    return {**record["data"], "id": record["id"], "created": record["created_at"]}


def trail_flat(record: Any) -> Flat:
    return {**record, "created": record["created_at"]}


def family_apis(base: str, token: str, ids: list[str], cores: int, system: str) -> list[Api]:
    """The two HTTP families of one running TinyBase."""
    headers = {"Authorization": f"Bearer {token}"}
    common = {"system": system, "base_url": base, "headers": headers, "ids": ids, "cores": cores}
    return [
        Api(
            family="collections",
            requests=core_requests(),
            read_one=core_flat,
            read_list=lambda body: [core_flat(r) for r in body["records"]],
            created_id=lambda body: body["id"],
            **common,
        ),
        Api(
            family="records-v1",
            requests=trail_requests(),
            read_one=trail_flat,
            read_list=lambda body: [trail_flat(r) for r in body["records"]],
            created_id=lambda body: body["ids"][0],
            **common,
        ),
    ]


@dataclass(frozen=True)
class Seeded:
    """A seeded TinyBase database, kept across server runs (pinned, then ``--workers 2``)."""

    token: str
    ids: list[str]
    how: str


def seed_tinybase(client: httpx.Client, count: int) -> Seeded:
    """Collection, user and rows; bulk on the TrailBase family, else parallel creates."""
    token = prepare(client)
    headers = {"Authorization": f"Bearer {token}"}
    try:
        return Seeded(token, seed_bulk(client, headers, count), "records-v1 bulk")
    except BulkRefused as exc:
        ids = seed_parallel(client, headers, count)
        return Seeded(token, ids, f"parallel creates on collections ({exc})")


def add_admin(setup: Setup) -> None:
    """``tinybase admin add`` on the private database (creates and migrates it).

    Raises:
        subprocess.CalledProcessError: the CLI failed (its output is kept on the error).
    """
    subprocess.run(
        [str(setup.bin_dir / "tinybase"), "admin", "add", *ADMIN],
        env=full_env(setup),
        cwd=setup.workdir,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )


def full_env(setup: Setup) -> dict[str, str]:
    return {**os.environ, **environment(setup.workdir)}


@contextmanager
def running(
    setup: Setup, *, workers: int = 1, seeded: Seeded | None = None
) -> Iterator[tuple[list[Api], Seeded]]:
    """Start ``tinybase serve`` (pinned to ``setup.cpu`` unless None); yield (apis, seeded).

    The first run seeds a fresh database; later runs pass ``seeded`` to reuse it.
    """
    if seeded is None:
        add_admin(setup)
    write_functions(setup.workdir)
    port = free_port()
    base = f"http://{LOOPBACK}:{port}"
    cmd = [str(setup.bin_dir / "tinybase"), "serve", "--host", LOOPBACK, "--port", str(port)]
    cmd += ["--workers", str(workers)] if workers > 1 else []
    with (
        server(
            cmd,
            ready_url=f"{base}/health",
            log_path=setup.workdir / f"tinybase-{workers}.log",
            cpu=setup.cpu,
            env=environment(setup.workdir),
            cwd=setup.workdir,
        ),
        httpx.Client(base_url=base, timeout=120) as client,
    ):
        seeded = seeded or seed_tinybase(client, setup.records)
        system = "tinybase" if workers == 1 else f"tinybase --workers {workers}"
        apis = family_apis(base, seeded.token, seeded.ids, workers, system)
        for api in apis:
            api.notes.append(f"seeded via {seeded.how}")
        yield apis, seeded
