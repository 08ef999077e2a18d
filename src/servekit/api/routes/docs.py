"""/docs and /redoc, with Swagger UI's and ReDoc's files served by the app itself, not a CDN.

FastAPI's own pages load their scripts from a CDN and their favicon from fastapi.tiangolo.com,
so that a server on a network without the internet shows a blank page. These pages are
FastAPI's, pointed at the copies the ``fastapi-offline`` package ships (docs/THIRD_PARTY.md
has their licences), served under ``ASSETS_PATH``.
"""

from __future__ import annotations

from importlib import metadata, resources
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import FileResponse, HTMLResponse

DOCS_PATH = "/docs"
REDOC_PATH = "/redoc"
OAUTH2_REDIRECT_PATH = "/docs/oauth2-redirect"
ASSETS_PATH = "/static/docs"

ASSET_TYPES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}
"""Each file served, with its type: under ``nosniff`` a browser runs no script of another type."""

# NOTE: the URLs carry the package's version, so that a year's caching never serves an old
# Swagger UI after an upgrade: a new version is a new URL.
CACHED = "public, max-age=31536000, immutable"

SWAGGER_PARAMETERS = {
    "dom_id": "#swagger-ui",
    "layout": "BaseLayout",
    "deepLinking": True,
    "showExtensions": True,
    "showCommonExtensions": True,
    # Never send the document to validator.swagger.io.
    "validatorUrl": None,
}
"""FastAPI's default Swagger UI parameters, without the online validator."""


def _assets_folder() -> Path:
    return Path(str(resources.files("fastapi_offline") / "static"))


def docs_router(*, title: str, openapi_url: str) -> APIRouter:
    """The routes of the two pages, Swagger UI's OAuth2 redirect, and the files they load."""
    folder = _assets_folder()
    version = metadata.version("fastapi-offline")
    router = APIRouter(include_in_schema=False)

    def asset(request: Request, name: str) -> str:
        # root_path: behind a proxy that serves the app under a prefix, the URLs keep it.
        return f"{request.scope.get('root_path', '')}{ASSETS_PATH}/{name}?v={version}"

    @router.get(DOCS_PATH)
    async def swagger_ui(request: Request) -> HTMLResponse:
        """Swagger UI: try each operation, Authorize with a token from /auth/token."""
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{title} - Swagger UI",
            swagger_js_url=asset(request, "swagger-ui-bundle.js"),
            swagger_css_url=asset(request, "swagger-ui.css"),
            swagger_favicon_url=asset(request, "favicon.png"),
            oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT_PATH}",
            swagger_ui_parameters=SWAGGER_PARAMETERS,
        )

    @router.get(OAUTH2_REDIRECT_PATH)
    async def swagger_ui_redirect() -> HTMLResponse:
        """Where Swagger UI's OAuth2 sign-in window returns to."""
        return get_swagger_ui_oauth2_redirect_html()

    @router.get(REDOC_PATH)
    async def redoc(request: Request) -> HTMLResponse:
        """ReDoc: the same document, to read."""
        page = get_redoc_html(
            openapi_url=f"{request.scope.get('root_path', '')}{openapi_url}",
            title=f"{title} - ReDoc",
            redoc_js_url=asset(request, "redoc.standalone.js"),
            redoc_favicon_url=asset(request, "favicon.png"),
            # NOTE: FastAPI's default loads Google Fonts; without them ReDoc uses the system's.
            with_google_fonts=False,
        )
        # NOTE: ReDoc's sidebar always shows its maker's logo from their CDN; images from this
        # server only, so that reading the docs calls no one else (the link stays, as text).
        page.headers["content-security-policy"] = "img-src 'self' data:"
        return page

    @router.get(f"{ASSETS_PATH}/{{name}}")
    async def docs_asset(name: str) -> FileResponse:
        """One of the pages' files; only those listed are served (no path reaches the folder)."""
        media_type = ASSET_TYPES.get(name)
        if media_type is None:
            raise HTTPException(404)
        return FileResponse(folder / name, media_type=media_type, headers={"cache-control": CACHED})

    return router
