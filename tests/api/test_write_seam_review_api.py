"""Review of the write seam (issue 9) on a running instance: collection changes made through
the writer (CollectionService over ``AppState.session()``) and the caches of the instance."""

from __future__ import annotations

import threading

from tests.api.helpers import CORE
from tinybase.collections.service import CollectionService


def test_a_collection_created_through_the_writer_is_not_hidden_by_a_lookup_before_commit(
    client, admin
):
    """The catalog and registry were told of the change inside the writer's transaction,
    before its commit: a request looking up collections meanwhile (another thread) reloaded
    the old, committed state and kept it as current until the next poll (2 s): 404s for a
    collection CollectionService had just created."""
    state = client.app.state.tinybase
    looked: list[bool] = []

    def concurrent_request() -> None:  # another request's thread, while the write is open
        def lookup() -> None:
            looked.append(state.collections.definition("later") is not None)
            looked.append("later" in state.record_apis.apis())

        thread = threading.Thread(target=lookup)
        thread.start()
        thread.join(10)

    state.collections.add_listener(concurrent_request)
    with state.session() as session:
        CollectionService(session).create_collection(
            "later", "Later", {"fields": [{"name": "title", "type": "string"}]}
        )
    assert looked[:2] == [False, False]  # not committed yet when the other thread looked
    assert state.collections.definition("later") is not None
    assert "later" in state.record_apis.apis()
    response = client.post(
        f"{CORE}/later/records", json={"data": {"title": "x"}}, headers=admin.headers
    )
    assert response.status_code == 201, response.text
