"""Routes of the TrailBase record API family, at /api/records/v1 and /api/v1/records."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["records (TrailBase)"])
