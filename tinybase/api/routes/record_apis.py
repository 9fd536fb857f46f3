"""Routes under /api/admin/record-apis."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/admin/record-apis", tags=["record APIs"])
