"""Runtime settings for admins: ``GET/PATCH /api/admin/settings``."""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Body

from tinybase.api.deps import AdminUser, State
from tinybase.errors import StorageError

router = APIRouter(prefix="/api/admin/settings", tags=["admin"])

_EXAMPLE = {"instance_name": "My app", "storage": {"enabled": True}}


@router.get("")
def read_settings(state: State, _admin: AdminUser) -> dict[str, Any]:
    """Every runtime setting with its current value (secrets masked)."""
    return state.settings.current.public()


@router.patch("")
def update_settings(
    state: State,
    _admin: AdminUser,
    changes: Annotated[dict[str, Any], Body(examples=[_EXAMPLE])],
) -> dict[str, Any]:
    """Change some settings (nested objects or dotted keys); the others keep their values.

    An unknown key or a value of the wrong type is a 422 naming the key; nothing is stored.
    """
    return state.settings.update(changes).public()


@router.post("/storage/check")
async def check_storage(state: State, _admin: AdminUser) -> dict[str, Any]:
    """Whether the file store the settings name is reachable and writable: a small object
    is written, read back and deleted. ``detail`` says what failed (never a secret)."""
    options = state.settings.current.storage
    backend = options.backend if options.enabled else "local"
    try:
        await anyio.to_thread.run_sync(lambda: state.storage.store.check())
    except StorageError as exc:
        return {"ok": False, "backend": backend, "detail": str(exc.detail)}
    return {"ok": True, "backend": backend, "detail": None}
