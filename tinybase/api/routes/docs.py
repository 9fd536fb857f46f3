"""The API docs pages, ``GET /docs`` (Swagger UI) and ``GET /redoc`` (ReDoc), served offline.

FastAPI's own pages load Swagger UI, ReDoc, a favicon and Google Fonts from CDNs: a blank
page on a machine without internet. These pages load the copies vendored in the package
(``static/docs``, versions and licences in its README), mounted at :data:`STATIC_PATH`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

__all__ = ["STATIC_PATH", "router", "static_files"]

router = APIRouter(tags=["docs"], include_in_schema=False)

STATIC_PATH = "/docs/static"
# Swagger UI would send the spec to validator.swagger.io for its badge: nothing leaves.
_SWAGGER_PARAMETERS = {"validatorUrl": None}
# The pages may load only from this server: ReDoc's sidebar asks for its logo from
# cdn.redoc.ly (a third-party request on every view), which the browser then never sends.
# Inline scripts and styles: FastAPI's pages start the UIs inline, ReDoc styles inline.
_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; worker-src 'self' blob:"
}


def static_files() -> StaticFiles:
    """The vendored Swagger UI and ReDoc files, read from the installed package."""
    return StaticFiles(packages=[("tinybase.api", "static/docs")])


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "").rstrip("/")
    assets = f"{root}{STATIC_PATH}/swagger-ui"
    page = get_swagger_ui_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} - Swagger UI",
        swagger_js_url=f"{assets}/swagger-ui-bundle.js",
        swagger_css_url=f"{assets}/swagger-ui.css",
        swagger_favicon_url=f"{assets}/favicon-32x32.png",
        swagger_ui_parameters=_SWAGGER_PARAMETERS,
    )
    page.headers.update(_HEADERS)
    return page


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "").rstrip("/")
    page = get_redoc_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} - ReDoc",
        redoc_js_url=f"{root}{STATIC_PATH}/redoc/redoc.standalone.js",
        redoc_favicon_url=f"{root}{STATIC_PATH}/swagger-ui/favicon-32x32.png",
        with_google_fonts=False,
    )
    page.headers.update(_HEADERS)
    return page
