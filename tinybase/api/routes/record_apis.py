"""Routes under /api/admin/record-apis (admins only).

    GET    /api/admin/record-apis          every API (collections' defaults too, with origin)
    POST   /api/admin/record-apis          {name, table_name, acl_world, ...} -> 201 the API
    GET    /api/admin/record-apis/{name}   one API
    PATCH  /api/admin/record-apis/{name}   change options of an admin-defined API
    DELETE /api/admin/record-apis/{name}   -> 204

Bodies are TrailBase's ``record_apis`` entries. A rule the database cannot run is refused
with a 422 carrying the database's message.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Response
from pydantic import AfterValidator

from tinybase.api.bodies import reject_unencodable
from tinybase.api.deps import AdminUser, State
from tinybase.records.store import RecordApiStore

router = APIRouter(prefix="/api/admin/record-apis", tags=["record APIs"])


def get_store(state: State) -> RecordApiStore:
    return RecordApiStore(state.db, state.record_apis)


Store = Annotated[RecordApiStore, Depends(get_store)]
# A lone UTF-16 surrogate anywhere in the body is a 422, not a 500 (see tinybase.api.bodies).
JsonObject = Annotated[dict[str, Any], Body(), AfterValidator(reject_unencodable)]


@router.get("")
def list_record_apis(_admin: AdminUser, store: Store) -> list[dict[str, Any]]:
    return store.list()


@router.post("", status_code=201)
def create_record_api(_admin: AdminUser, store: Store, body: JsonObject) -> dict[str, Any]:
    return store.create(body)


@router.get("/{name}")
def get_record_api(name: str, _admin: AdminUser, store: Store) -> dict[str, Any]:
    return store.get(name)


@router.patch("/{name}")
def update_record_api(
    name: str, _admin: AdminUser, store: Store, body: JsonObject
) -> dict[str, Any]:
    return store.update(name, body)


@router.delete("/{name}", status_code=204)
def delete_record_api(name: str, _admin: AdminUser, store: Store) -> Response:
    store.delete(name)
    return Response(status_code=204)
