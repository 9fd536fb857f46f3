"""Record APIs from the attacker's side: every case asserts nothing leaked and nothing changed.

Scenario: ``posts`` is an admin-defined API where signed-in users may do everything, but
only on their own rows (owner rules), ``_secret`` is write-only and ``owner`` must be the
caller on create (a ``_REQ_`` rule). ``vault`` is an API nobody but admins may read.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.api.helpers import bad_tokens, define, make_tables, table_rows

ALL = ["CREATE", "READ", "UPDATE", "DELETE", "SCHEMA"]
BASE = "/api/records/v1"


@pytest.fixture
def world(client, admin, make_user):
    make_tables(client)
    define(
        client,
        admin,
        name="posts",
        acl_authenticated=ALL,
        expand=["parent"],
        create_access_rule="_REQ_.owner = _USER_.id",
        read_access_rule="_ROW_.owner = _USER_.id",
        update_access_rule="_ROW_.owner = _USER_.id AND NOT 'owner' IN _REQ_FIELDS_",
        delete_access_rule="_ROW_.owner = _USER_.id",
    )
    define(client, admin, name="vault", acl_authenticated=["CREATE"], expand=["parent"])
    alice, bob = make_user(), make_user()
    (victim,) = client.post(
        f"{BASE}/posts",
        json={"title": "bob's", "owner": bob.id, "_secret": "s3cret", "score": 1},
        headers=bob.headers,
    ).json()["ids"]
    (own,) = client.post(
        f"{BASE}/posts", json={"title": "alice's", "owner": alice.id}, headers=alice.headers
    ).json()["ids"]
    before = table_rows(client, "posts")
    return {"alice": alice, "bob": bob, "victim": victim, "own": own, "before": before}


def _unchanged(client, world):
    assert table_rows(client, "posts") == world["before"]


def _no_leak(response):
    assert "s3cret" not in response.text and "bob's" not in response.text


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/posts/{victim}", None, 404),
        ("PATCH", "/posts/{victim}", {"score": 99}, 404),
        ("PATCH", "/posts/{victim}", {"owner": "{alice}"}, 404),
        ("DELETE", "/posts/{victim}", None, 404),
        ("GET", "/posts?title=bob's", None, 200),
        ("GET", "/posts?filter[owner]={bob}", None, 200),
        ("GET", "/posts?count=true", None, 200),
        ("POST", "/posts", {"title": "x", "owner": "{bob}"}, 403),
        (
            "POST",
            "/posts",
            [{"title": "x", "owner": "{alice}"}, {"title": "y", "owner": "{bob}"}],
            403,
        ),
        ("PATCH", "/posts/{own}", {"owner": "{bob}"}, 403),
        ("GET", "/vault", None, 403),
        ("GET", "/vault/{victim}", None, 403),
    ],
)
def test_another_users_rows_stay_invisible_and_unchanged(client, world, method, path, body, status):
    fill = {k: (v.id if hasattr(v, "id") else v) for k, v in world.items() if k != "before"}

    def subst(value):
        if isinstance(value, str):
            return value.format(**fill)
        if isinstance(value, dict):
            return {k: subst(v) for k, v in value.items()}
        if isinstance(value, list):
            return [subst(v) for v in value]
        return value

    response = client.request(
        method, BASE + subst(path), json=subst(body), headers=world["alice"].headers
    )
    assert response.status_code == status, response.text
    _no_leak(response)
    if "count=true" in path:
        assert response.json()["total_count"] == 1
    _unchanged(client, world)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/posts/{victim}", None),
        ("GET", "/posts", None),
        ("POST", "/posts", {"title": "x"}),
        ("PATCH", "/posts/{victim}", {"score": 5}),
        ("DELETE", "/posts/{victim}", None),
        ("GET", "/posts/schema", None),
    ],
)
def test_no_token_and_bad_tokens_are_401(client, world, method, path, body):
    path = BASE + path.format(victim=world["victim"])
    response = client.request(method, path, json=body)
    assert response.status_code == 401, response.text
    _no_leak(response)
    for name, token in bad_tokens(client, world["bob"]).items():
        response = client.request(
            method, path, json=body, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 401, name
        _no_leak(response)
    _unchanged(client, world)


@pytest.mark.parametrize(
    ("query", "visible"),
    [
        ("_secret=s3cret", None),
        ("filter[_secret][$like]=s%", None),
        ("filter[$or][0][_secret][$is]=!NULL", None),
        ("order=_secret", None),
        ("order=-_secret,title", None),
        ("expand=_secret", None),
        ("expand=owner", None),
        ("title=x' OR '1'='1", []),
        ("title[like]=%' OR 1=1 --", []),
        ("filter[title) OR (1=1][$eq]=x", None),
        ("owner = owner", None),
        ("order=title; DROP TABLE posts", None),
        ("order=(SELECT 1)", None),
        ("cursor=' OR 1=1 --", None),
        ("cursor=k1.WyInIE9SIDE9MSIsIngiXQ&order=title", ["own"]),
        ("score=1 OR 1=1", None),
        ("filter[score][$gt]=0) OR (1=1", None),
    ],
)
def test_write_only_columns_and_injection_are_refused(client, world, query, visible):
    """``visible=None``: a 400. Otherwise the text is a bound value: an injection that worked
    would return rows, and a forged cursor may move the page start, never past the read rule."""
    response = client.get(f"{BASE}/posts?{query}", headers=world["alice"].headers)
    if visible is None:
        assert response.status_code == 400, response.text
    else:
        assert response.status_code == 200, response.text
        assert [r["id"] for r in response.json()["records"]] == [world[k] for k in visible]
    _no_leak(response)
    _unchanged(client, world)


def test_req_spoofing_cannot_claim_another_owner(client, world):
    alice, bob = world["alice"], world["bob"]
    response = client.post(
        f"{BASE}/posts", json={"title": "x", "owner": bob.id}, headers=alice.headers
    )
    assert response.status_code == 403, response.text
    body = {"title": "x", "owner": bob.id, "_REQ_": {"owner": alice.id}}
    response = client.post(f"{BASE}/posts", json=body, headers=alice.headers)
    assert response.status_code == 422, response.text
    assert "_REQ_" in str(response.json()["detail"])
    response = client.post(
        f"{BASE}/posts", data={"title": "x", "owner": bob.id}, headers=alice.headers
    )
    assert response.status_code == 403
    _unchanged(client, world)


def test_expand_into_an_unreadable_row_is_null(client, world):
    alice = world["alice"]
    (child,) = client.post(
        f"{BASE}/posts",
        json={"title": "child", "owner": alice.id, "parent": world["victim"]},
        headers=alice.headers,
    ).json()["ids"]
    record = client.get(f"{BASE}/posts/{child}?expand=parent", headers=alice.headers)
    assert record.status_code == 200 and record.json()["parent"] is None
    _no_leak(record)
    listed = client.get(f"{BASE}/posts?expand=parent", headers=alice.headers)
    assert listed.status_code == 200, listed.text
    parents = [(r["id"], r["parent"]) for r in listed.json()["records"]]
    assert parents == [(child, None), (world["own"], None)]
    _no_leak(listed)


def test_expand_into_a_table_the_caller_may_not_read_is_null(client, admin, world):
    metadata = sa.MetaData()
    sa.Table(
        "safe",
        metadata,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("content", sa.String(50)),
    )
    sa.Table(
        "refs",
        metadata,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("target", sa.String(36), sa.ForeignKey("safe.id")),
    )
    with client.app.state.tinybase.db.write() as connection:
        metadata.create_all(connection)
        connection.exec_driver_sql(
            "INSERT INTO safe (id, content) VALUES ('01900000-0000-7000-8000-00000000000a', 'gold')"
        )
    define(client, admin, name="safe", table_name="safe", acl_authenticated=["CREATE"])
    define(
        client,
        admin,
        name="refs",
        table_name="refs",
        acl_authenticated=["CREATE", "READ"],
        expand=["target"],
    )
    alice = world["alice"]
    (ref,) = client.post(
        f"{BASE}/refs",
        json={"target": "01900000-0000-7000-8000-00000000000a"},
        headers=alice.headers,
    ).json()["ids"]
    for path in (f"/refs/{ref}?expand=target", "/refs?expand=target"):
        response = client.get(BASE + path, headers=alice.headers)
        assert response.status_code == 200 and "gold" not in response.text
    assert (
        client.get(f"{BASE}/refs/{ref}?expand=target", headers=alice.headers).json()["target"]
        is None
    )
