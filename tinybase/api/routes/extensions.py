"""Routes under /api/admin/extensions: what extensions this process loaded.

GET /api/admin/extensions  -> {enabled, loaded: [{name, version, description, source,
                              location, module, hooks, functions}], failed: [{name,
                              source, location, file, line, error}]}   (admins only)
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from tinybase.api.deps import AdminUser, State

router = APIRouter(prefix="/api/admin/extensions", tags=["admin"])


@router.get("")
def list_extensions(state: State, _admin: AdminUser) -> dict[str, Any]:
    """The extensions loaded at start-up with the hooks and functions each registered, and
    those that failed to load, with the file and the error."""
    return state.extensions.describe(state.hooks.specs, state.served_functions())
