"""What a write's answer, a conflict or a collection's metadata may tell a caller.

From the attacker's side (issue 16, items 5-8 and 14): every case asserts the exact status,
the exact answer, and that nothing the attacker may not read shows up in it or changed.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.api.helpers import (
    CORE,
    FAST_TEST_CONFIG,
    V1,
    create_tables,
    define,
    make_collection,
    table_rows,
)
from tinybase.api.app import create_app
from tinybase.records.conflicts import CONFLICT_LIMIT
from tinybase.settings import load_config

NOTES_ACCESS = {"list": "owner", "read": "owner", "create": "auth", "update": "auth"}


@pytest.fixture
def notes(client, admin, make_user):
    """``notes``: anyone signed in may update any note, only its owner may read it."""
    make_collection(client, admin, "notes", [{"name": "title", "type": "text"}], NOTES_ACCESS)
    alice, bob = make_user(), make_user()
    created = client.post(
        f"{CORE}/notes/records", json={"data": {"title": "bob's secret"}}, headers=bob.headers
    )
    assert created.status_code == 201, created.text
    collection_id = client.get(f"{CORE}/notes", headers=admin.headers).json()["id"]
    return {"alice": alice, "bob": bob, "id": created.json()["id"], "cid": collection_id}


# -- item 5: a write's answer passes the read rule; a no-op update touches nothing -------------


def test_an_empty_update_of_a_row_the_caller_may_not_read_shows_only_the_id(client, notes):
    before = table_rows(client, "notes")
    response = client.patch(
        f"{CORE}/notes/records/{notes['id']}", json={"data": {}}, headers=notes["alice"].headers
    )
    assert response.status_code == 200
    assert response.json() == {"id": notes["id"], "collection_id": notes["cid"]}
    assert table_rows(client, "notes") == before  # updated_at unchanged


def test_an_update_of_a_row_the_caller_may_not_read_shows_only_the_id(client, notes):
    response = client.patch(
        f"{CORE}/notes/records/{notes['id']}",
        json={"data": {"title": "defaced"}},
        headers=notes["alice"].headers,
    )
    assert response.status_code == 200
    assert response.json() == {"id": notes["id"], "collection_id": notes["cid"]}
    # The update rule allowed the change itself; only the answer is cut.
    assert [row["title"] for row in table_rows(client, "notes")] == ["defaced"]


def test_the_owner_still_gets_the_whole_record_and_an_empty_update_writes_nothing(client, notes):
    before = table_rows(client, "notes")
    response = client.patch(
        f"{CORE}/notes/records/{notes['id']}", json={"data": {}}, headers=notes["bob"].headers
    )
    assert response.status_code == 200
    body = response.json()
    assert body["data"] == {"title": "bob's secret"}
    assert body["owner_id"] == notes["bob"].id
    assert table_rows(client, "notes") == before


def test_an_empty_update_still_goes_through_the_update_rule(client, admin, make_user):
    make_collection(
        client,
        admin,
        "diary",
        [{"name": "title", "type": "text"}],
        {"read": "auth", "create": "auth", "update": "owner"},
    )
    owner, other = make_user(), make_user()
    record = client.post(
        f"{CORE}/diary/records", json={"data": {"title": "mine"}}, headers=owner.headers
    ).json()
    before = table_rows(client, "diary")
    for family_url, body in (
        (f"{CORE}/diary/records/{record['id']}", {"data": {}}),
        (f"{V1}/diary/{record['id']}", {}),
    ):
        response = client.patch(family_url, json=body, headers=other.headers)
        assert response.status_code == 403, family_url
    owned = client.patch(f"{V1}/diary/{record['id']}", json={}, headers=owner.headers)
    assert owned.status_code == 200
    assert table_rows(client, "diary") == before


def test_an_empty_update_of_a_missing_row_is_404(client, notes):
    response = client.patch(
        f"{CORE}/notes/records/0190aaaa-0000-7000-8000-000000000000",
        json={"data": {}},
        headers=notes["alice"].headers,
    )
    assert response.status_code == 404


def test_a_create_the_caller_may_not_read_back_answers_with_the_id_only(client, admin):
    make_collection(
        client, admin, "inbox", [{"name": "message", "type": "text"}], {"create": "public"}
    )
    response = client.post(f"{CORE}/inbox/records", json={"data": {"message": "hi"}})
    assert response.status_code == 201
    body = response.json()
    assert sorted(body) == ["collection_id", "id"]
    assert [row["id"] for row in table_rows(client, "inbox")] == [body["id"]]
    admin_view = client.get(f"{CORE}/inbox/records/{body['id']}", headers=admin.headers)
    assert admin_view.json()["data"] == {"message": "hi"}


# -- item 6: collection metadata shows non-admins no rule text --------------------------------


@pytest.fixture
def invite_only(client, admin):
    make_collection(
        client,
        admin,
        "members",
        [{"name": "name", "type": "text"}, {"name": "invite", "type": "text"}],
        {"list": "auth", "read": "auth", "create": "_REQ_.invite = 'sesame-4471'"},
    )


def test_non_admins_see_fields_and_operations_but_never_the_rules(
    client, admin, make_user, invite_only
):
    user = make_user()
    one = client.get(f"{CORE}/members", headers=user.headers)
    assert one.status_code == 200
    body = one.json()
    assert "sesame" not in one.text
    assert "options" not in body
    assert body["operations"] == ["list", "read", "create"]
    assert [field["name"] for field in body["schema"]["fields"]] == ["name", "invite"]
    listed = client.get(CORE, headers=user.headers)
    assert listed.status_code == 200
    assert "sesame" not in listed.text
    assert [c["operations"] for c in listed.json()] == [["list", "read", "create"]]


def test_anonymous_callers_see_only_what_they_may_do(client, admin):
    make_collection(
        client,
        admin,
        "board",
        [{"name": "title", "type": "text"}],
        {"list": "public", "read": "public", "create": "_REQ_.title <> 'sesame-4471'"},
    )
    response = client.get(f"{CORE}/board")
    assert response.status_code == 200
    assert "sesame" not in response.text
    assert response.json()["operations"] == ["list", "read", "create"]


def test_admins_still_see_the_rules(client, admin, invite_only):
    body = client.get(f"{CORE}/members", headers=admin.headers).json()
    assert body["options"]["access"]["create"] == "_REQ_.invite = 'sesame-4471'"
    assert "operations" not in body


# -- item 7: unique conflicts on values the caller may not read are rationed ------------------


@pytest.fixture
def pins(client, admin):
    """``pins``: a unique write-only ``_pin``; any signed-in user may create and read rows."""
    metadata = sa.MetaData()
    sa.Table(
        "pins",
        metadata,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("label", sa.String(50), nullable=True),
        sa.Column("_pin", sa.String(10), nullable=True, unique=True),
    )
    create_tables(client, metadata)
    define(client, admin, name="pins", table_name="pins", acl_authenticated=["CREATE", "READ"])


def test_a_unique_write_only_column_is_not_an_oracle(client, pins, make_user):
    victim, attacker = make_user(), make_user()
    assert (
        client.post(f"{V1}/pins", json={"_pin": "4471"}, headers=victim.headers).status_code == 200
    )
    for _ in range(CONFLICT_LIMIT):
        response = client.post(f"{V1}/pins", json={"_pin": "4471"}, headers=attacker.headers)
        assert response.status_code == 409
        assert "_pin" not in response.text and "4471" not in response.text
    # The budget is spent: a wrong guess (which would be created) and a right one look alike.
    for guess in ("0000", "4471"):
        response = client.post(f"{V1}/pins", json={"_pin": guess}, headers=attacker.headers)
        assert response.status_code == 429
        assert int(response.headers["retry-after"]) >= 1
        assert response.json() == {"detail": "Too many conflicting writes; try again later"}
    with client.app.state.tinybase.db.read() as connection:
        pins_stored = connection.execute(sa.text('SELECT "_pin" FROM pins')).scalars().all()
    assert pins_stored == ["4471"]
    # Another caller's budget is their own.
    other = client.post(f"{V1}/pins", json={"_pin": "1234"}, headers=victim.headers)
    assert other.status_code == 200


def test_writes_that_set_no_hidden_unique_value_cost_nothing(client, pins, make_user):
    user = make_user()
    for index in range(CONFLICT_LIMIT + 5):
        response = client.post(f"{V1}/pins", json={"label": f"l{index}"}, headers=user.headers)
        assert response.status_code == 200


def test_a_conflicting_bulk_costs_one_unit_per_record(client, pins, make_user):
    victim, attacker = make_user(), make_user()
    client.post(f"{V1}/pins", json={"_pin": "4471"}, headers=victim.headers)
    # Halving a list of candidates per conflict would find the pin in a few requests.
    bulk = [{"label": f"decoy {i}"} for i in range(CONFLICT_LIMIT - 1)] + [{"_pin": "4471"}]
    response = client.post(f"{V1}/pins", json=bulk, headers=attacker.headers)
    assert response.status_code == 409
    response = client.post(f"{V1}/pins", json={"label": "anything"}, headers=attacker.headers)
    assert response.status_code == 429


def test_anonymous_conflicts_are_counted_per_client(client, admin, make_user):
    make_collection(
        client,
        admin,
        "signups",
        [{"name": "email", "type": "email", "unique": True}],
        {"create": "public", "read": "admin"},
    )
    first = client.post(f"{CORE}/signups/records", json={"data": {"email": "vip@example.com"}})
    assert first.status_code == 201
    for _ in range(CONFLICT_LIMIT):
        response = client.post(
            f"{CORE}/signups/records", json={"data": {"email": "vip@example.com"}}
        )
        assert response.status_code == 409
    response = client.post(f"{CORE}/signups/records", json={"data": {"email": "new@example.com"}})
    assert response.status_code == 429
    assert [row["email"] for row in table_rows(client, "signups")] == ["vip@example.com"]
    # A signed-in user is another caller.
    user = make_user()
    response = client.post(
        f"{CORE}/signups/records", json={"data": {"email": "new@example.com"}}, headers=user.headers
    )
    assert response.status_code == 201


def test_conflicts_on_values_everyone_may_read_are_not_rationed(client, admin, make_user):
    make_collection(
        client,
        admin,
        "tags",
        [{"name": "tag", "type": "string", "unique": True}],
        {"list": "auth", "read": "auth", "create": "auth"},
    )
    user = make_user()
    assert (
        client.post(f"{CORE}/tags/records", json={"data": {"tag": "x"}}, headers=user.headers)
    ).status_code == 201
    for _ in range(CONFLICT_LIMIT + 2):
        response = client.post(
            f"{CORE}/tags/records", json={"data": {"tag": "x"}}, headers=user.headers
        )
        assert response.status_code == 409


def test_transactions_draw_on_the_same_budget(client, pins, make_user):
    victim, attacker = make_user(), make_user()
    client.post(f"{V1}/pins", json={"_pin": "4471"}, headers=victim.headers)
    create = {"Create": {"api_name": "pins", "value": {"_pin": "4471"}}}
    for _ in range(CONFLICT_LIMIT):
        response = client.post(
            "/api/transaction/v1/execute",
            json={"operations": [create], "transaction": True},
            headers=attacker.headers,
        )
        assert response.status_code == 409
    response = client.post(f"{V1}/pins", json={"_pin": "0000"}, headers=attacker.headers)
    assert response.status_code == 429


# -- item 8: every API over a collection's table validates with the collection's schema -------


def test_an_admin_api_over_a_collection_table_validates_like_the_collection(
    client, admin, make_user
):
    make_collection(
        client,
        admin,
        "links",
        [
            {"name": "site", "type": "url"},
            {"name": "title", "type": "string", "pattern": "^[a-z]+$"},
        ],
        {"list": "public", "read": "public"},
    )
    define(client, admin, name="links_open", table_name="links", acl_world=["CREATE", "READ"])
    for field, value in (("site", "javascript:alert(1)"), ("title", "NOT LOWER")):
        response = client.post(f"{V1}/links_open", json={field: value})
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"][-1] == field
    assert table_rows(client, "links") == []
    good = client.post(f"{V1}/links_open", json={"site": "https://example.com", "title": "ok"})
    assert good.status_code == 200
    assert [row["title"] for row in table_rows(client, "links")] == ["ok"]


def test_an_admin_api_over_a_collection_table_validates_updates_too(client, admin):
    make_collection(client, admin, "pages", [{"name": "site", "type": "url"}], {"list": "public"})
    define(client, admin, name="pages_open", table_name="pages", acl_world=["CREATE", "UPDATE"])
    (record_id,) = client.post(f"{V1}/pages_open", json={"site": "https://a.example"}).json()["ids"]
    response = client.patch(f"{V1}/pages_open/{record_id}", json={"site": "javascript:x"})
    assert response.status_code == 422
    assert [row["site"] for row in table_rows(client, "pages")] == ["https://a.example"]


# -- item 14: system tables are private whatever defines the API ------------------------------


@pytest.mark.parametrize("table_name", ["_user", "_session", "_record", "_alembic_version"])
def test_a_configured_api_over_a_system_table_is_refused(db_url, table_name):
    config = load_config(
        db_url=db_url,
        record_apis=[
            {"name": "leak", "table_name": table_name, "acl_world": ["READ", "CREATE"]},
        ],
        **FAST_TEST_CONFIG,
    )
    with TestClient(create_app(config)) as client:
        users = client.app.state.tinybase.users
        users.create_user(email="victim@example.com", password="pw-0123456789", is_admin=True)
        listed = client.get(f"{V1}/leak")
        assert listed.status_code == 404
        assert "password_hash" not in listed.text
        created = client.post(f"{V1}/leak", json={"email": "x@example.com", "is_admin": True})
        assert created.status_code == 404
        assert "leak" not in client.app.state.tinybase.record_apis.apis()


def test_the_admin_api_refuses_system_tables_through_the_same_check(client, admin):
    for table_name in ("_user", "_alembic_version", "sqlite_master"):
        response = client.post(
            "/api/admin/record-apis",
            json={"name": "leak", "table_name": table_name, "acl_world": ["READ"]},
            headers=admin.headers,
        )
        assert response.status_code == 422
        assert response.json()["detail"][0]["msg"] == "TinyBase's system tables are private"
