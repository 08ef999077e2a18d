"""The page's routes: one HTML shell for each of its addresses, and its static files.

The shell is the same for every address: the script reads the address and draws the page, so that
moving between pages keeps the sign-in, which lives in the script's memory only (see README).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from starlette.responses import FileResponse
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC = Path(__file__).parent / "static"
PAGES = ("/ui", "/ui/models/{name}", "/ui/history", "/ui/monitor", "/ui/admin")

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        # No inline script, no eval: injected markup cannot run, whatever a model or user wrote.
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",  # previews of chosen images are blob: URLs
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)
HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-cache",  # (nosniff comes with every answer: see monitoring/middleware.py)
}


class _Headed:
    """An ASGI app whose responses carry the page's security headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.raw = [(k.encode(), v.encode()) for k, v in HEADERS.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def headed(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.raw]
            await send(message)

        await self.app(scope, receive, headed)


async def _shell() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html", headers=HEADERS)


def install_ui(app: FastAPI) -> None:
    """Add the page's addresses and ``/ui/static`` to ``app``."""
    router = APIRouter(include_in_schema=False)
    for path in PAGES:
        router.add_api_route(path, _shell, methods=["GET"])
    app.include_router(router)
    app.mount("/ui/static", _Headed(StaticFiles(directory=STATIC)), name="ui-static")
