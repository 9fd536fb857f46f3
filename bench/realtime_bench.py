"""Realtime benchmarks (issue 14), on loopback, bounded in time.

1. Fan-out: ``--subscribers`` SSE streams (``/api/records/v1/feed/subscribe/*``) on one
   TinyBase process, half of them of the user who writes (the collection's ``owner`` rule
   lets them read) and half of another user (who may read none of it); a writer creates
   ``--rate`` records per second for ``--seconds``. Reported: events delivered per second,
   and the latency from each record's ``created_at`` (set just before its INSERT, committed
   within the same millisecond or so) to its arrival at each allowed subscriber, p50/p99.
2. W1 (create one record, wrk as in ``make bench``) without subscribers, then with ``--idle``
   idle subscribers connected (of the other user: every event is checked for them, none is
   sent).

``python bench/realtime_bench.py [--subscribers 1000 --rate 50 --seconds 10 --idle 100]``
prints a Markdown summary (and writes it with ``--out``). The server is pinned to CPU 0,
wrk to CPU 1; the subscribers' client runs in this process (unpinned).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from api import Api, Req
from procs import LOOPBACK, free_port, server
from tinybase_system import ADMIN, environment, login
from wrk import LUA_DIR, run_wrk

COLLECTION = {
    "name": "feed",
    "schema": {"fields": [{"name": "title", "type": "string"}]},
    "options": {"access": dict.fromkeys(("list", "read", "create", "update", "delete"), "owner")},
}
SUBSCRIBE = "/api/records/v1/feed/subscribe/*"
PASSWORD = "bench password 123"


async def subscriber(
    port: int, token: str, ready: asyncio.Event, latencies: list[float], counts: list[int]
) -> None:
    """One SSE stream over a raw socket: headers, then count events and their latency."""
    reader, writer = await asyncio.open_connection(LOOPBACK, port, limit=1 << 20)
    request = (
        f"GET {SUBSCRIBE} HTTP/1.1\r\nHost: {LOOPBACK}:{port}\r\n"
        f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
    )
    writer.write(request.encode())
    status = await reader.readline()
    if b" 200 " not in status:
        raise RuntimeError(f"subscribe failed: {status!r}")
    while (await reader.readline()) not in (b"\r\n", b""):
        pass
    ready.set()
    try:
        while line := await reader.readline():
            start = line.find(b"data: ")
            if start < 0:
                continue
            received = time.time()
            event = json.loads(line[start + 6 :])
            row = event.get("Insert")
            if row is not None:
                created = datetime.fromisoformat(row["created_at"]).timestamp()
                latencies.append(received - created)
                counts[0] += 1
    finally:
        writer.close()


async def fan_out(base: str, port: int, tokens: tuple[str, str], args: Any) -> dict[str, Any]:
    writer_token, other_token = tokens
    latencies: list[float] = []
    allowed_counts, other_counts = [0], [0]
    tasks = []
    for index in range(args.subscribers):
        ready = asyncio.Event()
        mine = index % 2 == 0
        token = writer_token if mine else other_token
        counts = allowed_counts if mine else other_counts
        tasks.append(asyncio.create_task(subscriber(port, token, ready, latencies, counts)))
        await ready.wait()
    created = 0
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        headers = {"Authorization": f"Bearer {writer_token}"}
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < args.seconds:
            response = await http.post("/api/records/v1/feed", json={"title": "x"}, headers=headers)
            response.raise_for_status()
            created += 1
            pause = created / args.rate - (time.monotonic() - started)
            if pause > 0:
                await asyncio.sleep(pause)
        await asyncio.sleep(2.0)  # let the last events arrive
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    expected = created * ((args.subscribers + 1) // 2)
    ordered = sorted(latencies) or [0.0]
    return {
        "subscribers": args.subscribers,
        "records_created": created,
        "seconds": round(elapsed, 2),
        "events_expected": expected,
        "events_delivered": allowed_counts[0],
        "events_to_the_other_user": other_counts[0],
        "events_per_second": round(allowed_counts[0] / elapsed, 1),
        "latency_p50_ms": round(statistics.median(ordered) * 1000, 1),
        "latency_p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 1),
    }


def w1(base: str, token: str, seconds: int) -> float:
    api = Api(
        system="tinybase",
        family="records-v1",
        base_url=base,
        headers={"Authorization": f"Bearer {token}"},
        requests={"W1": Req("POST", "/api/records/v1/feed", json.dumps({"title": "w1"}))},
        ids=[],
        read_one=lambda record: record,
        read_list=lambda records: records,
        created_id=lambda body: body["ids"][0],
    )
    with tempfile.NamedTemporaryFile("w", suffix=".ids") as ids:
        ids.write("none\n")
        ids.flush()
        run = run_wrk(api, "W1", str(LUA_DIR / "w1_create.lua"), seconds, Path(ids.name))
    if run.problem:
        raise RuntimeError(f"W1 invalid: {run.problem}")
    return run.rps


async def idle_w1(base: str, port: int, tokens: tuple[str, str], idle: int, seconds: int) -> float:
    """W1 (as the writer) while ``idle`` streams of the other user are connected."""
    writer_token, other_token = tokens
    tasks = []
    for _ in range(idle):
        ready = asyncio.Event()
        tasks.append(asyncio.create_task(subscriber(port, other_token, ready, [], [0])))
        await ready.wait()
    try:
        return await asyncio.to_thread(w1, base, writer_token, seconds)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def prepare(workdir: Path, env: dict[str, str]) -> None:
    """Create the database and an admin (``tinybase admin add``)."""
    command = [sys.executable, "-c", "from tinybase.cli.main import app; app()"]
    subprocess.run(
        [*command, "admin", "add", *ADMIN], env=env, cwd=workdir, check=True, capture_output=True
    )


def users(client: httpx.Client) -> tuple[str, str]:
    admin = {"Authorization": f"Bearer {login(client, ADMIN)}"}
    client.post("/api/collections", json=COLLECTION, headers=admin).raise_for_status()
    tokens = []
    for email in ("writer@example.com", "other@example.com"):
        body = {"email": email, "password": PASSWORD}
        client.post("/api/auth/register", json=body).raise_for_status()
        tokens.append(login(client, (email, PASSWORD)))
    return tokens[0], tokens[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50.0, help="records created per second")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--idle", type=int, default=100)
    parser.add_argument("--w1-seconds", type=int, default=10)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tinybase-realtime-bench-") as directory:
        workdir = Path(directory)
        env = {
            **os.environ,
            **environment(workdir),
            "TINYBASE_REALTIME_MAX_CONNECTIONS_PER_USER": str(args.subscribers + args.idle),
        }
        prepare(workdir, env)
        port = free_port()
        base = f"http://{LOOPBACK}:{port}"
        command = [sys.executable, "-m", "uvicorn", "tinybase.cli.serve:create_served_app"]
        command += ["--factory", "--host", LOOPBACK, "--port", str(port), "--no-access-log"]
        command += ["--log-level", "warning", "--backlog", "4096"]
        log = workdir / "server.log"
        with server(command, ready_url=f"{base}/health", log_path=log, cpu=0, env=env, cwd=workdir):
            with httpx.Client(base_url=base, timeout=30) as client:
                writer_token, other_token = users(client)
            tokens = (writer_token, other_token)
            w1_alone = w1(base, writer_token, args.w1_seconds)
            w1_idle = asyncio.run(idle_w1(base, port, tokens, args.idle, args.w1_seconds))
            time.sleep(1.0)  # the last W1 creates still in flight: not for the fan-out's streams
            fan = asyncio.run(fan_out(base, port, tokens, args))
    report = render(fan, w1_alone, w1_idle, args)
    print(report)
    if args.out:
        args.out.write_text(report)


def render(fan: dict[str, Any], w1_alone: float, w1_idle: float, args: Any) -> str:
    load = os.getloadavg()[0]
    ratio = w1_idle / w1_alone if w1_alone else 0.0
    lines = [
        f"Realtime benchmark ({datetime.now().strftime('%Y-%m-%d %H:%M')}, load average "
        f"{load:.2f} at the end; a shared 2-core machine)",
        "",
        "| Measure | Value |",
        "|---|---|",
        f"| subscribers (half allowed by the owner rule) | {fan['subscribers']:,} |",
        f"| records created | {fan['records_created']:,} in {fan['seconds']} s |",
        f"| events delivered / expected | {fan['events_delivered']:,} / "
        f"{fan['events_expected']:,} |",
        f"| events to the user who may not read them | {fan['events_to_the_other_user']} |",
        f"| events delivered per second | {fan['events_per_second']:,} |",
        f"| create-to-delivery latency p50 / p99 | {fan['latency_p50_ms']} ms / "
        f"{fan['latency_p99_ms']} ms |",
        f"| W1 req/s without subscribers | {w1_alone:,.0f} |",
        f"| W1 req/s with {args.idle} idle subscribers | {w1_idle:,.0f} ({ratio:.0%}) |",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
