"""Routes under /api/admin: user management and the first admin's setup.

    POST   /api/admin/setup        {token, email, password} -> 201 (once, with the console token)
    GET    /api/admin/users        ?limit&offset -> {users, total, limit, offset}
    POST   /api/admin/users        {email, password, is_admin?} -> 201 user
    GET    /api/admin/users/{id}   -> user
    PATCH  /api/admin/users/{id}   {email?, password?, is_admin?} -> user
    DELETE /api/admin/users/{id}   -> 204

The last admin can be neither demoted nor deleted (409).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from tinybase.api.bodies import RequestBody
from tinybase.api.deps import AdminUser, ClientIp, State

router = APIRouter(prefix="/api/admin", tags=["admin"])


class SetupRequest(RequestBody):
    token: str
    email: str
    password: str


class NewUser(RequestBody):
    email: str
    password: str
    is_admin: bool = False


class UserChanges(RequestBody):
    email: str | None = None
    password: str | None = None
    is_admin: bool | None = None


@router.post("/setup", status_code=201)
def setup_first_admin(body: SetupRequest, client_ip: ClientIp, state: State) -> dict[str, Any]:
    """Create the first admin with the one-time token ``tinybase serve`` printed."""
    user = state.auth.setup_first_admin(
        token=body.token, email=body.email, password=body.password, client_ip=client_ip
    )
    return user.public()


@router.get("/users")
def list_users(
    state: State,
    _admin: AdminUser,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """One page of users, oldest first."""
    users, total = state.users.list_users(limit=limit, offset=offset)
    return {
        "users": [user.public() for user in users],
        "total": total,
        "limit": limit,
        "offset": offset,
    }


@router.post("/users", status_code=201)
def create_user(body: NewUser, state: State, _admin: AdminUser) -> dict[str, Any]:
    """Create a user (optionally an admin)."""
    user = state.users.create_user(email=body.email, password=body.password, is_admin=body.is_admin)
    return user.public()


@router.get("/users/{user_id}")
def read_user(user_id: str, state: State, _admin: AdminUser) -> dict[str, Any]:
    """One user."""
    return state.users.get_user(user_id).public()


@router.patch("/users/{user_id}")
def update_user(user_id: str, body: UserChanges, state: State, _admin: AdminUser) -> dict[str, Any]:
    """Change a user's email, password or admin flag (a new password or a demotion ends
    the user's tokens everywhere within seconds)."""
    user = state.users.update_user(
        user_id, email=body.email, password=body.password, is_admin=body.is_admin
    )
    return user.public()


@router.delete("/users/{user_id}", status_code=204)
def delete_user(user_id: str, state: State, _admin: AdminUser) -> Response:
    """Delete a user; their sessions go with them, their records keep a null owner."""
    state.users.delete_user(user_id)
    return Response(status_code=204)
