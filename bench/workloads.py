"""The workloads, and the correctness check each one passes before it is loaded.

A figure only means something if the server answered the right thing: before each workload
one request is sent with httpx and its answer checked (the filter applied, the order right,
the one record by id). A failed check marks the workload INVALID and it is not loaded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import httpx
from api import NEW_TITLE, Api, Flat, expect, needles, seed_rows

__all__ = ["RUN_ORDER", "WORKLOADS", "CheckFailed", "Workload", "check", "check_rules"]


@dataclass(frozen=True)
class Workload:
    """A workload: its id, what it does, and its wrk Lua script (in ``bench/lua``)."""

    name: str
    title: str
    script: str


WORKLOADS = {
    w.name: w
    for w in (
        Workload("W1", "create", "w1_create.lua"),
        Workload("W2", "get by id", "w2_get.lua"),
        Workload("W3", "list 20, score > 500, by score desc", "w3_list_score.lua"),
        Workload("W4", "update score", "w4_update.lua"),
        Workload("W5", "list 20, title = needle", "w5_list_needle.lua"),
        Workload("W6", "list newest 20", "w6_list_newest.lua"),
        Workload("W7", "call the in-process echo function", "w7_echo.lua"),
        Workload("W8", "call the isolated (SDK) echo function, warm", "w8_echo_sdk.lua"),
        Workload("hello", "plain route, no database", "hello.lua"),
    )
}
# Reads first, on the seeded data; then the writes (W4 changes scores, W1 adds rows). W7
# changes no record (it writes its call records) and comes right after W2, its yardstick.
RUN_ORDER = ["hello", "W2", "W7", "W8", "W3", "W5", "W6", "W4", "W1"]


class CheckFailed(RuntimeError):
    """The first response of a workload was wrong; the message says how."""


def send(
    api: Api, client: httpx.Client, name: str, *, record_id: str = "", n: int = 0
) -> httpx.Response:
    """Send workload ``name``'s request once, as wrk would (``{id}`` and ``%d`` filled)."""
    req = api.requests[name]
    body = req.body.replace("%d", str(n)) if req.body else None
    path = req.path.replace("{id}", record_id)
    headers = {**api.headers, "Content-Type": "application/json"}
    return client.request(req.method, api.base_url + path, content=body, headers=headers)


def require(condition: bool, message: str) -> None:
    """Raise CheckFailed with ``message`` unless ``condition`` holds."""
    if not condition:
        raise CheckFailed(message)


def get_flat(api: Api, client: httpx.Client, record_id: str) -> Flat:
    """One record by id through the W2 request."""
    return api.read_one(expect(send(api, client, "W2", record_id=record_id), "get by id"))


def check_create(api: Api, client: httpx.Client, seeded: int) -> None:
    new_id = api.created_id(expect(send(api, client, "W1"), "create"))
    record = get_flat(api, client, new_id)
    require(record["title"] == NEW_TITLE, f"created record reads back as {record}")


def check_get(api: Api, client: httpx.Client, seeded: int) -> None:
    rows = seed_rows(seeded)
    for index in (0, seeded // 2):
        record = get_flat(api, client, api.ids[index])
        want = rows[index]
        require(record["id"] == api.ids[index], f"asked {api.ids[index]}, got {record['id']}")
        require(
            (record["title"], record["done"]) == (want["title"], want["done"]),
            f"record {index} is {record}, expected {want}",
        )


def list_flat(api: Api, client: httpx.Client, name: str) -> list[Flat]:
    return api.read_list(expect(send(api, client, name), f"list {name}"))


def check_list_score(api: Api, client: httpx.Client, seeded: int) -> None:
    scores = [r["score"] for r in list_flat(api, client, "W3")]
    require(len(scores) == 20, f"expected 20 records, got {len(scores)}")
    require(all(s > 500 for s in scores), f"filter score > 500 not applied: {scores}")
    require(scores == sorted(scores, reverse=True), f"not sorted by score desc: {scores}")


def check_update(api: Api, client: httpx.Client, seeded: int) -> None:
    record_id = api.ids[1]
    expect(send(api, client, "W4", record_id=record_id, n=123), "update")
    record = get_flat(api, client, record_id)
    want_title = seed_rows(2)[1]["title"]
    require(
        (record["score"], record["title"]) == (123, want_title),
        f"after updating score to 123 the record is {record}",
    )


def check_list_needle(api: Api, client: httpx.Client, seeded: int) -> None:
    titles = [r["title"] for r in list_flat(api, client, "W5")]
    want = min(20, needles(seeded))
    require(len(titles) == want, f"expected {want} needles, got {len(titles)}")
    require(all(t == "needle" for t in titles), f"filter title = needle not applied: {titles}")


def check_list_newest(api: Api, client: httpx.Client, seeded: int) -> None:
    created = [r["created"] for r in list_flat(api, client, "W6")]
    require(len(created) == 20, f"expected 20 records, got {len(created)}")
    require(created == sorted(created, reverse=True), f"not newest first: {created}")


def check_echo(api: Api, client: httpx.Client, seeded: int) -> None:
    answer = expect(send(api, client, "W7"), "echo function")
    require(answer == {"echoed": "bench"}, f"the echo function answered {answer}")


def check_echo_sdk(api: Api, client: httpx.Client, seeded: int) -> None:
    """W8's first answer: the script's environment is prepared in the background, so wait
    (503 until then); the time to the first answer is the cold start, reported aside."""
    deadline = time.monotonic() + 300
    response = send(api, client, "W8")
    while response.status_code == 503 and time.monotonic() < deadline:
        time.sleep(0.2)
        response = send(api, client, "W8")
    answer = expect(response, "SDK echo function")
    require(answer == {"echoed": "bench"}, f"the SDK echo function answered {answer}")


def check_hello(api: Api, client: httpx.Client, seeded: int) -> None:
    answer = send(api, client, "hello")
    require(answer.status_code == 200, f"hello answered {answer.status_code}")


CHECKS: dict[str, Callable[[Api, httpx.Client, int], None]] = {
    "W1": check_create,
    "W2": check_get,
    "W3": check_list_score,
    "W4": check_update,
    "W5": check_list_needle,
    "W6": check_list_newest,
    "W7": check_echo,
    "W8": check_echo_sdk,
    "hello": check_hello,
}


def check(api: Api, name: str, client: httpx.Client, seeded: int) -> None:
    """Check workload ``name``'s answer on ``api`` seeded with ``seeded`` records.

    Raises:
        CheckFailed: the answer is wrong.
        StepFailed: the request was not answered with a 2xx.
    """
    CHECKS[name](api, client, seeded)


def check_rules(api: Api, client: httpx.Client) -> None:
    """Anonymous callers must see nothing: the owner rules are really in force.

    Raises:
        CheckFailed: an anonymous list returned records or an anonymous get succeeded.
    """
    anonymous = replace(api, headers={})
    listed = send(anonymous, client, "W3")
    if listed.status_code < 400:
        require(not api.read_list(listed.json()), "an anonymous list returned records")
    got = send(anonymous, client, "W2", record_id=api.ids[0])
    require(got.status_code >= 400, f"an anonymous get answered {got.status_code}")
