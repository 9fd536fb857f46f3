"""The TrailBase record API family over HTTP: admin-defined APIs, CRUD, lists, transactions."""

from __future__ import annotations

import pytest

from tests.api.helpers import define, make_tables, table_rows

OWNER = "_ROW_.owner = _USER_.id"


@pytest.fixture
def posts(client, admin):
    make_tables(client)
    return define(
        client,
        admin,
        name="posts",
        acl_authenticated=["CREATE", "READ", "UPDATE", "DELETE", "SCHEMA"],
        autofill_missing_user_id_columns=True,
        create_access_rule="_REQ_.owner IS NULL OR _REQ_.owner = _USER_.id",
        read_access_rule=OWNER,
        update_access_rule=OWNER,
        delete_access_rule=OWNER,
        expand=["parent"],
    )


def test_admin_defines_an_api_and_lists_it(client, admin, posts):
    assert posts["name"] == "posts" and posts["origin"] == "admin"
    one = client.get("/api/admin/record-apis/posts", headers=admin.headers).json()
    assert one["read_access_rule"] == OWNER and "LIST" in one["acl_authenticated"]
    listed = client.get("/api/admin/record-apis", headers=admin.headers).json()
    assert "posts" in [api["name"] for api in listed]


def test_admin_endpoints_refuse_non_admins(client, make_user, posts):
    user = make_user()
    assert client.get("/api/admin/record-apis", headers=user.headers).status_code == 403
    assert client.get("/api/admin/record-apis").status_code == 401
    response = client.post(
        "/api/admin/record-apis", json={"name": "x", "table_name": "posts"}, headers=user.headers
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("config", "field"),
    [
        (
            {"name": "bad", "table_name": "posts", "read_access_rule": "_ROW_.nope = 1"},
            "read_access_rule",
        ),
        (
            {"name": "bad", "table_name": "posts", "read_access_rule": "_ROW_.title = = 1"},
            "read_access_rule",
        ),
        (
            {"name": "bad", "table_name": "posts", "create_access_rule": "_ROW_.id = 1"},
            "create_access_rule",
        ),
        ({"name": "bad", "table_name": "nope"}, "table_name"),
        ({"name": "bad", "table_name": "_user"}, "table_name"),
        ({"name": "bad", "table_name": "posts", "acl_world": ["FLY"]}, "acl_world"),
        ({"name": "bad", "table_name": "posts", "colour": "red"}, "colour"),
        ({"name": "bad", "table_name": "posts", "expand": ["nope"]}, "expand"),
        ({"name": "b d", "table_name": "posts"}, "name"),
    ],
)
def test_bad_api_definitions_are_422_naming_the_option(client, admin, config, field):
    make_tables(client)
    response = client.post("/api/admin/record-apis", json=config, headers=admin.headers)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", field]
    assert client.get("/api/admin/record-apis/bad", headers=admin.headers).status_code == 404


def test_duplicate_api_name_is_409(client, admin, posts):
    response = client.post(
        "/api/admin/record-apis",
        json={"name": "posts", "table_name": "posts"},
        headers=admin.headers,
    )
    assert response.status_code == 409


def test_crud_round_trip_on_both_prefixes(client, make_user, posts):
    alice = make_user()
    response = client.post(
        "/api/records/v1/posts",
        json={"title": "hi", "score": 3, "_secret": "s"},
        headers=alice.headers,
    )
    assert response.status_code == 200, response.text
    (post_id,) = response.json()["ids"]
    for prefix in ("/api/records/v1", "/api/v1/records"):
        record = client.get(f"{prefix}/posts/{post_id}", headers=alice.headers).json()
        assert record == {
            "id": post_id,
            "owner": alice.id,
            "title": "hi",
            "score": 3,
            "grp": None,
            "parent": None,
        }
    response = client.patch(
        f"/api/records/v1/posts/{post_id}", json={"score": 4}, headers=alice.headers
    )
    assert response.status_code == 200
    assert (
        table_rows(client, "posts")[0]["score"] == 4
        and table_rows(client, "posts")[0]["_secret"] == "s"
    )
    assert (
        client.delete(f"/api/v1/records/posts/{post_id}", headers=alice.headers).status_code == 200
    )
    assert table_rows(client, "posts") == []
    assert client.get(f"/api/records/v1/posts/{post_id}", headers=alice.headers).status_code == 404


def test_form_encoded_and_multipart_creates(client, make_user, posts):
    alice = make_user()
    response = client.post(
        "/api/records/v1/posts", data={"title": "form", "score": "5"}, headers=alice.headers
    )
    assert response.status_code == 200, response.text
    response = client.post(
        "/api/records/v1/posts", files={"title": (None, "multi")}, headers=alice.headers
    )
    assert response.status_code == 200, response.text
    rows = sorted((row["title"], row["score"]) for row in table_rows(client, "posts"))
    assert rows == [("form", 5), ("multi", None)]


def test_bulk_create_is_one_transaction(client, make_user, posts):
    alice = make_user()
    response = client.post(
        "/api/records/v1/posts", json=[{"title": "a"}, {"title": "b"}], headers=alice.headers
    )
    assert response.status_code == 200 and len(response.json()["ids"]) == 2
    response = client.post(
        "/api/records/v1/posts", json=[{"title": "c"}, {"score": "x"}], headers=alice.headers
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "score"]
    assert sorted(row["title"] for row in table_rows(client, "posts")) == ["a", "b"]


def test_list_filters_order_cursor_and_count(client, make_user, posts):
    alice, bob = make_user(), make_user()
    client.post(
        "/api/records/v1/posts",
        json=[{"title": f"t{i}", "score": i % 4} for i in range(10)],
        headers=alice.headers,
    )
    client.post("/api/records/v1/posts", json={"title": "bob's", "score": 3}, headers=bob.headers)
    response = client.get(
        "/api/records/v1/posts?filter[score][$gte]=2&order=-score,title&count=true&limit=3",
        headers=alice.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total_count"] == 4
    assert [(r["title"], r["score"]) for r in body["records"]] == [("t3", 3), ("t7", 3), ("t2", 2)]
    rest = client.get(
        "/api/records/v1/posts",
        params={"order": "-score,title", "filter[score][$gte]": "2", "cursor": body["cursor"]},
        headers=alice.headers,
    ).json()
    assert [r["title"] for r in rest["records"]] == ["t6"] and "total_count" not in rest
    short = client.get("/api/records/v1/posts?score[lt]=1&title[like]=t%", headers=alice.headers)
    assert sorted(r["title"] for r in short.json()["records"]) == ["t0", "t4", "t8"]
    nested = client.get(
        "/api/records/v1/posts?filter[$or][0][title]=t1&filter[$or][1][title]=bob's",
        headers=alice.headers,
    )
    assert [r["title"] for r in nested.json()["records"]] == ["t1"]


def test_list_errors_are_400(client, make_user, posts):
    alice = make_user()
    for query in (
        "_secret=s",
        "order=_secret",
        "nope=1",
        "score=abc",
        "expand=owner",
        "cursor=zzz",
        "limit=abc",
    ):
        response = client.get(f"/api/records/v1/posts?{query}", headers=alice.headers)
        assert response.status_code == 400, query
        assert isinstance(response.json()["detail"], str)


def test_expand_returns_trailbase_shape(client, make_user, posts):
    alice = make_user()
    (parent,) = client.post(
        "/api/records/v1/posts", json={"title": "p"}, headers=alice.headers
    ).json()["ids"]
    (child,) = client.post(
        "/api/records/v1/posts", json={"title": "c", "parent": parent}, headers=alice.headers
    ).json()["ids"]
    record = client.get(f"/api/records/v1/posts/{child}?expand=parent", headers=alice.headers)
    assert record.json()["parent"]["id"] == parent
    assert record.json()["parent"]["data"]["title"] == "p"
    listed = client.get("/api/records/v1/posts?expand=parent&title=c", headers=alice.headers)
    assert listed.json()["records"][0]["parent"]["data"]["id"] == parent


def test_an_expandable_column_not_expanded_is_its_id_alone(client, make_user, posts):
    alice = make_user()
    (parent,) = client.post(
        "/api/records/v1/posts", json={"title": "p"}, headers=alice.headers
    ).json()["ids"]
    (child,) = client.post(
        "/api/records/v1/posts", json={"title": "c", "parent": parent}, headers=alice.headers
    ).json()["ids"]
    record = client.get(f"/api/records/v1/posts/{child}", headers=alice.headers).json()
    assert record["parent"] == {"id": parent}
    listed = client.get("/api/records/v1/posts?order=title", headers=alice.headers).json()
    assert [r["parent"] for r in listed["records"]] == [{"id": parent}, None]


def test_schema_endpoint(client, make_user, posts):
    alice = make_user()
    schema = client.get("/api/records/v1/posts/schema?mode=Select", headers=alice.headers)
    assert schema.status_code == 200
    assert "_secret" not in schema.json()["properties"]
    insert = client.get("/api/records/v1/posts/schema", headers=alice.headers).json()
    assert "_secret" in insert["properties"]
    assert client.get("/api/records/v1/posts/schema").status_code == 401
    assert (
        client.get("/api/records/v1/posts/schema?mode=Nope", headers=alice.headers).status_code
        == 400
    )


def test_transaction_is_all_or_nothing(client, make_user, posts):
    alice, bob = make_user(), make_user()
    (bobs,) = client.post(
        "/api/records/v1/posts", json={"title": "bob"}, headers=bob.headers
    ).json()["ids"]
    (mine,) = client.post(
        "/api/records/v1/posts", json={"title": "mine"}, headers=alice.headers
    ).json()["ids"]
    ok = client.post(
        "/api/transaction/v1/execute",
        json={
            "operations": [
                {"Create": {"api_name": "posts", "value": {"title": "tx1"}}},
                {"Update": {"api_name": "posts", "record_id": mine, "value": {"score": 9}}},
                {"Create": {"api_name": "posts", "value": {"title": "tx2"}}},
            ],
            "transaction": True,
        },
        headers=alice.headers,
    )
    assert ok.status_code == 200, ok.text
    rows = table_rows(client, "posts")
    created = sorted(row["id"] for row in rows if row["title"] in ("tx1", "tx2"))
    assert sorted(ok.json()["ids"]) == created
    results = ok.json()["results"]
    assert results[1] == {"Id": mine} and sorted([results[0]["Id"], results[2]["Id"]]) == created
    failed = client.post(
        "/api/transaction/v1/execute",
        json={
            "operations": [
                {"Create": {"api_name": "posts", "value": {"title": "tx3"}}},
                {"Delete": {"api_name": "posts", "record_id": mine}},
                {"Delete": {"api_name": "posts", "record_id": bobs}},
            ]
        },
        headers=alice.headers,
    )
    assert failed.status_code == 404
    titles = sorted(row["title"] for row in table_rows(client, "posts"))
    assert titles == ["bob", "mine", "tx1", "tx2"]
    too_many = {"operations": [{"Delete": {"api_name": "posts", "record_id": mine}}] * 129}
    assert (
        client.post("/api/transaction/v1/execute", json=too_many, headers=alice.headers).status_code
        == 413
    )
    bad = client.post(
        "/api/transaction/v1/execute", json={"operations": [{"Fly": {}}]}, headers=alice.headers
    )
    assert bad.status_code == 400


def test_unknown_api_is_404(client, make_user):
    user = make_user()
    assert client.get("/api/records/v1/nope", headers=user.headers).status_code == 404


def test_update_and_delete_of_admin_api(client, admin, make_user, posts):
    alice = make_user()
    response = client.patch(
        "/api/admin/record-apis/posts",
        json={"acl_world": ["READ"], "read_access_rule": None},
        headers=admin.headers,
    )
    assert response.status_code == 200, response.text
    client.post("/api/records/v1/posts", json={"title": "x"}, headers=alice.headers)
    assert len(client.get("/api/records/v1/posts").json()["records"]) == 1
    assert client.delete("/api/admin/record-apis/posts", headers=admin.headers).status_code == 204
    assert client.get("/api/records/v1/posts").status_code == 404


def test_views_are_read_only(client, admin, make_user):
    make_tables(client)
    with client.app.state.tinybase.db.write() as connection:
        connection.exec_driver_sql(
            "CREATE VIEW high_posts AS SELECT id, title, score FROM posts WHERE score > 5"
        )
        connection.exec_driver_sql(
            "INSERT INTO posts (id, title, score) VALUES "
            "('01900000-0000-7000-8000-000000000001', 'hi', 9), "
            "('01900000-0000-7000-8000-000000000002', 'lo', 1)"
        )
    define(client, admin, name="high", table_name="high_posts", acl_world=["READ", "CREATE"])
    listed = client.get("/api/records/v1/high").json()["records"]
    assert [r["title"] for r in listed] == ["hi"]
    assert client.post("/api/records/v1/high", json={"title": "x"}).status_code == 403


def test_group_membership_rule_over_http(client, admin, make_user):
    make_tables(client)
    alice, bob = make_user(), make_user()
    define(
        client,
        admin,
        name="group_posts",
        acl_authenticated=["READ", "CREATE"],
        read_access_rule=(
            "EXISTS(SELECT 1 FROM memberships m WHERE m.member = _USER_.id AND m.grp = _ROW_.grp)"
        ),
    )
    with client.app.state.tinybase.db.write() as connection:
        connection.exec_driver_sql(
            f"INSERT INTO memberships (member, grp) VALUES ('{alice.id}', 'red')"
        )
    client.post(
        "/api/records/v1/group_posts",
        json=[{"title": "r", "grp": "red"}, {"title": "b", "grp": "blue"}],
        headers=bob.headers,
    )
    assert [
        r["title"]
        for r in client.get("/api/records/v1/group_posts", headers=alice.headers).json()["records"]
    ] == ["r"]
    assert client.get("/api/records/v1/group_posts", headers=bob.headers).json()["records"] == []
