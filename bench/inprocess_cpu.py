"""CPU per request in process: the app with its lifespan, raw ASGI calls, executor jobs inline.

For A/B comparisons of two trees on a busy machine (performance.md, "Fourth round"):

    PYTHONPATH=TREE python bench/inprocess_cpu.py [--n 1000] [--only collections:W1,...]

Seeds the bench's ``bench`` collection (owner presets, 2,000 rows through the TrailBase
family) and sends each workload's request ``--n`` times straight into the ASGI app (no
network, no HTTP client), one after the other. Executor jobs run inline in the caller's
thread (each write is its own group commit), so the whole request is on one thread:
``--profile OUT`` writes a cProfile per workload; ``OPCOUNT=OUT`` counts the Python opcodes
each function executes (deterministic, slow); ``GRIND=1`` under
``valgrind --tool=callgrind --instr-atstart=no`` dumps the instructions of each workload's
loop alone (``callgrind.out.*.N``, ``totals:``). The version polls (catalog, registry,
revocations) are turned off, so their share does not depend on how long a loop takes.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import cProfile
import inspect
import json
import os
import re
import sys
import tempfile
import time

import httpx

from tinybase.api.app import create_app
from tinybase.records import executor as ex
from tinybase.settings import load_config

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
    "options": {
        "access": {
            "list": "owner",
            "read": "owner",
            "create": "owner",
            "update": "owner",
            "delete": "admin",
        }
    },
}

_JOB_ARGS = len(inspect.signature(ex._Job.__init__).parameters)


def inline_submit(self, fn, rows=1, *, blocking=False):
    loop = asyncio.get_running_loop()
    job = ex._Job(fn, loop, rows) if _JOB_ARGS == 4 else ex._Job(fn, loop)
    ex._settle(self._run_batch([job]))
    return job.future


ex._Lane.submit = inline_submit
GRIND = bool(os.environ.get("GRIND"))
OPS = collections.Counter() if os.environ.get("OPCOUNT") else None


def _local(frame, event, arg):
    if event == "opcode":
        code = frame.f_code
        OPS[(code.co_filename, code.co_firstlineno, code.co_name)] += 1
    return _local


def _trace(frame, event, arg):
    frame.f_trace_opcodes = True
    return _local


def dump_ops(path, n):

    with open(path, "w") as f:
        for (fn, _line, name), count in OPS.most_common():
            fn = re.sub(r"^/work/[^/]+/", "", fn)
            fn = re.sub(r".*site-packages/", "", fn)
            f.write(f"{count / n:.2f}\t{fn}:{name}\n")


def grind(arg: str) -> None:
    import subprocess

    subprocess.run(["callgrind_control", arg, str(os.getpid())], check=True, capture_output=True)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--profile")
    parser.add_argument("--only")
    parser.add_argument("--rounds", type=int, default=3)
    opts = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="tb-inproc-")
    config = load_config(
        db_url=f"sqlite:///{tmp}/bench.db",
        log_level="warning",
        scheduler_enabled=False,
        extensions_enabled=False,
        functions_path=f"{tmp}/functions",
        auth_access_token_ttl_minutes=240,
        public_url="https://tinybase.example",
        auth_password_time_cost=1,
        auth_password_memory_kib=1024,
        auth_password_parallelism=1,
        settings_poll_seconds=3600,
        auth_revocation_poll_seconds=3600,
    )
    app = create_app(config)
    async with app.router.lifespan_context(app):
        state = app.state.tinybase
        # No version polls inside the measured loops (their share would depend on how long
        # the loop takes, e.g. under valgrind): both trees poll every 2 s by default.
        seen_ids = set()

        def no_polls(obj, depth=0):
            if id(obj) in seen_ids or depth > 3:
                return
            seen_ids.add(id(obj))
            if hasattr(obj, "_poll_seconds"):
                obj._poll_seconds = 1e9
                print("no polls:", type(obj).__name__)
            for value in list(getattr(obj, "__dict__", {}).values()):
                if hasattr(value, "__dict__") and type(value).__module__.startswith("tinybase"):
                    no_polls(value, depth + 1)

        no_polls(state)
        try:
            from tinybase.collections import service as _svc

            for cat in list(getattr(_svc, "_catalogs", {}).values()):
                no_polls(cat)
        except Exception:
            pass
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            state.users.create_user(email="a@x.dev", password="admin-password-1", is_admin=True)
            r = await c.post(
                "/api/auth/login", json={"email": "a@x.dev", "password": "admin-password-1"}
            )
            admin = {"Authorization": "Bearer " + r.json()["access_token"]}
            r = await c.post("/api/collections", json=COLLECTION, headers=admin)
            assert r.status_code in (200, 201), r.text
            r = await c.post(
                "/api/auth/register", json={"email": "u@x.dev", "password": "user-password-1"}
            )
            assert r.status_code == 201, r.text
            r = await c.post(
                "/api/auth/login", json={"email": "u@x.dev", "password": "user-password-1"}
            )
            user = {
                "Authorization": "Bearer " + r.json()["access_token"],
                "Content-Type": "application/json",
            }
            rows = [
                {"title": f"item-{i}", "score": i % 1000, "done": i % 2 == 0} for i in range(2000)
            ]
            ids: list[str] = []
            for s in range(0, 2000, 1000):
                r = await c.post("/api/records/v1/bench", json=rows[s : s + 1000], headers=user)
                assert r.status_code == 200, r.text
                ids += r.json()["ids"]
            core = json.dumps({"data": {"title": "bench-new", "score": 1, "done": False}})
            trail = json.dumps({"title": "bench-new", "score": 1, "done": False})
            cases = {
                "collections:W1": lambda i: ("POST", "/api/collections/bench/records", core, 201),
                "records-v1:W1": lambda i: ("POST", "/api/records/v1/bench", trail, 200),
                "collections:W4": lambda i: (
                    "PATCH",
                    f"/api/collections/bench/records/{ids[i % len(ids)]}",
                    '{"data": {"score": ' + str(i % 1000) + "}}",
                    200,
                ),
                "records-v1:W4": lambda i: (
                    "PATCH",
                    f"/api/records/v1/bench/{ids[i % len(ids)]}",
                    '{"score": ' + str(i % 1000) + "}",
                    200,
                ),
                "collections:W2": lambda i: (
                    "GET",
                    f"/api/collections/bench/records/{ids[i % len(ids)]}",
                    "",
                    200,
                ),
            }
            if opts.only:
                cases = {k: v for k, v in cases.items() if k in opts.only.split(",")}

            raw_headers = [(k.lower().encode(), v.encode()) for k, v in user.items()]

            async def one(req):
                method, path, body, status = req
                data = body.encode()
                headers = [*raw_headers, (b"host", b"127.0.0.1")]
                if data:
                    headers.append((b"content-length", str(len(data)).encode()))
                scope = {
                    "type": "http",
                    "asgi": {"version": "3.0"},
                    "http_version": "1.1",
                    "method": method,
                    "scheme": "http",
                    "path": path,
                    "raw_path": path.encode(),
                    "query_string": b"",
                    "root_path": "",
                    "headers": headers,
                    "client": ("127.0.0.1", 5000),
                    "server": ("127.0.0.1", 80),
                    "state": {},
                }
                sent = []

                async def receive():
                    return {"type": "http.request", "body": data, "more_body": False}

                async def send(message):
                    sent.append(message)

                await app(scope, receive, send)
                got = sent[0]["status"]
                assert got == status, (path, got, sent)

            for make in cases.values():  # warm-up: every shape compiled
                for i in range(200):
                    await one(make(i))
            results = {name: [] for name in cases}
            for _ in range(opts.rounds):
                for name, make in cases.items():
                    reqs = [make(i) for i in range(opts.n)]
                    prof = cProfile.Profile() if opts.profile else None
                    if OPS is not None:
                        OPS.clear()
                        sys.settrace(_trace)
                    if GRIND:
                        grind("--zero")
                        grind("--instr=on")
                    t0 = time.process_time()
                    if prof:
                        prof.enable()
                    for req in reqs:
                        await one(req)
                    if prof:
                        prof.disable()
                    used = time.process_time() - t0
                    if OPS is not None:
                        sys.settrace(None)
                        dump_ops(f"{os.environ['OPCOUNT']}.{name.replace(':', '_')}", opts.n)
                    if GRIND:
                        grind("--instr=off")
                        grind(f"--dump={name}")
                    results[name].append(used / opts.n * 1e6)
                    if prof:
                        prof.dump_stats(f"{opts.profile}.{name.replace(':', '_')}")
            label = os.environ.get("LABEL", os.environ.get("PYTHONPATH", ""))
            for name, figures in results.items():
                figs = " ".join(f"{f:6.1f}" for f in figures)
                print(f"{label} {name:15} us/req: {figs}  min {min(figures):6.1f}", flush=True)


asyncio.run(main())
