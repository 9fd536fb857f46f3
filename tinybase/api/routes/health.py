"""Liveness: ``GET /health``."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["health"])


@router.get("/health")
def health() -> dict[str, str]:
    """Answers while the process is up; load balancers poll it."""
    return {"status": "ok"}
