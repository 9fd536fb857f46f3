"""A TrailBase Python client session against a running TinyBase.

Run by tests/api/test_trailbase_client.py with Python 3.13 and PyPI's ``trailbase`` 0.7.4:
``python trailbase_scenario.py URL EMAIL PASSWORD``. Prints one JSON object with what the
client saw; exits 1 on the first unexpected result.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from trailbase import Client, CompareOp, FetchException, Filter, RecordId, Tokens

seen: dict[str, Any] = {}


def check(condition: bool, message: str) -> None:
    if not condition:
        sys.stderr.write(f"scenario failed: {message}\n{json.dumps(seen, indent=1)}\n")
        sys.exit(1)


def status(action: Any, *args: Any) -> int:
    """200 if ``action(*args)`` succeeds, else the status of the client's FetchException."""
    try:
        action(*args)
    except FetchException as error:
        return error.status
    return 200


def titles(records: list[dict[str, Any]]) -> list[str]:
    return [record["title"] for record in records]


def main(base: str, email: str, password: str) -> None:
    client = Client(base)
    client.register(password=password, email=email)
    check(client.login(email, password) is None, "login without a second factor")
    user = client.user()
    check(user is not None and user.email == email, "login sets the user from the token")

    notes = client.records("notes")
    first = notes.create({"title": "first", "score": 1})
    check(notes.read(first)["title"] == "first", "read after create")
    notes.update(first, {"score": 2})
    check(notes.read(first)["score"] == 2, "update is visible")

    bulk = notes.create_bulk([{"title": f"b{n}", "score": n + 4} for n in range(1, 5)])
    seen["bulk"] = len(bulk)
    check(len(bulk) == 4, "bulk create returns four ids")

    filters: list[Any] = [Filter("score", "5", op=CompareOp.GREATER_THAN_EQUAL)]
    page = notes.list(filters=filters, order=["-score"], limit=3, count=True)
    seen["first"], seen["count"] = titles(page.records), page.total_count
    rest = notes.list(filters=filters, order=["-score"], limit=3, cursor=page.cursor)
    seen["second"] = titles(rest.records)
    check(seen["count"] == 4, "count with a filter")
    check(seen["first"] == ["b4", "b3", "b2"] and seen["second"] == ["b1"], "cursor paging")

    # No And/Or here: client 0.7.4 drops a bracket in composite keys (`filter[$or][0[title]`),
    # which TrailBase's serde_qs also reads as a map key "0[title", not a list element.
    like = notes.list(filters=[Filter("title", "fir%", op=CompareOp.LIKE)])
    seen["like"] = titles(like.records)
    check(seen["like"] == ["first"], "$like filter")
    check(notes.list(filters=[Filter.is_null("parent")], count=True).total_count == 5, "$is")

    child = notes.create({"title": "child", "parent": repr(first)})
    plain = notes.read(child)
    seen["unexpanded"] = plain["parent"]
    check(plain["parent"] == {"id": repr(first)}, "an unexpanded foreign key is {id}")
    expanded = notes.read(child, expand=["parent"])["parent"]
    check(expanded["id"] == repr(first) and expanded["data"]["title"] == "first", "expand read")
    listed = notes.list(filters=[Filter("title", "child")], expand=["parent"]).records
    check(listed[0]["parent"]["data"]["score"] == 2, "expand in a list")

    result = client.execute(
        [
            notes.create_op({"title": "tx", "score": 9}),
            notes.update_op(bulk[0], {"score": 50}),
            notes.delete_op(bulk[1]),
        ]
    )
    seen["transaction"] = [repr(item) for item in result.results]
    check(all(isinstance(item, RecordId) for item in result.results), "transaction results")
    check(seen["transaction"][1:] == [repr(bulk[0]), repr(bulk[1])], "one result per operation")
    check(notes.read(result.results[0])["title"] == "tx", "transaction create applied")
    check(notes.read(bulk[0])["score"] == 50, "transaction update applied")
    check(status(notes.read, bulk[1]) == 404, "transaction delete applied")
    missing = "01900000-0000-7000-8000-000000000000"
    failed = status(client.execute, [notes.create_op({"title": "never"}), notes.delete_op(missing)])
    seen["failedTransaction"] = failed
    check(failed == 404, "a failing transaction is reported")
    check(notes.list(filters=[Filter("title", "never")]).records == [], "and writes nothing")

    before = client.tokens()
    check(client.refresh_auth_tokens(force=True), "refresh")
    after = client.tokens()
    check(before is not None and after is not None, "tokens before and after refresh")
    check(
        after.refresh == before.refresh and client.user() is not None, "refresh keeps the session"
    )

    notes.delete(child)
    check(status(notes.read, child) == 404, "read after delete is 404")

    client.logout()  # POST with the refresh token
    check(client.user() is None, "logout clears the user")
    seen["afterLogout"] = status(Client(base, tokens=after).records("notes").list)
    check(seen["afterLogout"] == 401, "the session of the refresh token is gone")

    client.login(email, password)
    tokens = client.tokens()
    check(tokens is not None, "login again")
    bearer_only = Client(base, tokens=Tokens(tokens.auth, None, tokens.csrf))
    bearer_only.logout()  # GET with the auth token alone: every session of the user ends
    client.refresh_auth_tokens(force=True)  # a refused refresh logs the client out
    check(client.user() is None, "the GET logout revoked the refresh token")
    print(json.dumps(seen))


if __name__ == "__main__":
    main(*sys.argv[1:4])
