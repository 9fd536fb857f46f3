"""Routes under /api/auth/v1."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/auth/v1", tags=["auth (TrailBase)"])
