"""Routes under /api/transaction/v1."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/transaction/v1", tags=["records (TrailBase)"])
