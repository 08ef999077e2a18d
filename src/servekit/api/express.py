"""The express lane: POST predictions dispatched by exact path, around FastAPI's inner layers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from servekit.api.routes.predict import LeanRoute


class ExpressLane:
    """Serves the prediction routes straight from a path table; everything else goes on to the app.

    A prediction is the one request that must be fast, and FastAPI's router matches routes one by
    one and wraps each request in several layers. The same handler runs either way, and its errors
    go through the app's own exception handlers, so the answers are the same.
    """

    def __init__(
        self, app: ASGIApp, *, routes: Mapping[str, LeanRoute], handlers: Mapping[Any, Any]
    ) -> None:
        self.app = app
        self.routes = routes
        self.handlers = handlers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a POST to a prediction path here; pass anything else on."""
        route = (
            self.routes.get(scope["path"])
            if scope["type"] == "http" and scope["method"] == "POST"
            else None
        )
        if route is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = route  # read by the monitoring middleware for its path label
        request = Request(scope, receive, send)
        try:
            response = await route.handler(request)
        except Exception as exc:
            handler = next(
                (self.handlers[c] for c in type(exc).__mro__ if c in self.handlers), None
            )
            if handler is None:
                raise  # the server's error middleware answers 500
            response = await handler(request, exc)
        await response(scope, receive, send)
