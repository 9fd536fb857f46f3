"""Routes under /api/collections."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/collections", tags=["collections"])
