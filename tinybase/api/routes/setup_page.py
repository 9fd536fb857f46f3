"""The first-admin setup page, ``GET /admin/setup``: the link ``tinybase serve`` prints.

The page only collects an email and a password and posts them, with the token from its own
URL, to ``POST /api/admin/setup``, which checks the token and creates the admin once.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(prefix="/admin", tags=["admin"])

# The URL carries a secret: keep it out of caches and out of Referer headers.
_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
_PAGE = files("tinybase.api").joinpath("pages/setup.html").read_text(encoding="utf-8")


@router.get("/setup", response_class=HTMLResponse, include_in_schema=False)
def setup_page() -> HTMLResponse:
    """The form; the token stays in the URL and is only ever sent to the API."""
    return HTMLResponse(_PAGE, headers=_HEADERS)
