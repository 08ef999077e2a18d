"""The express lane: POST predictions served in one lean pass, in front of the app's middleware."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servekit.api.errors import error_response
from servekit.api.routes.predict import LeanRoute
from servekit.exceptions import ClientDisconnected
from servekit.monitoring.middleware import (
    EXPRESS_HEADERS,
    BodyLimit,
    RequestRecorder,
    request_id_of,
)

log = logging.getLogger("servekit.api")


def _counted(receive: Receive, limit: BodyLimit) -> Receive:
    async def counted() -> Message:
        message = await receive()
        if message["type"] == "http.request":
            limit.count(message.get("body", b""))
        return message

    return counted


class ExpressLane:
    """Serves the prediction routes straight from a path table; everything else goes on to the app.

    A prediction is the one request that must be fast, and FastAPI's router matches routes one by
    one and wraps each request in half a dozen layers, each with its own ``send`` wrapper. Here
    one coroutine does what those layers do for a prediction: request id, body limit, the
    app's own exception handlers, metrics and the access line, so the answers are the same.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Mapping[str, LeanRoute],
        handlers: Mapping[Any, Any],
        recorder: RequestRecorder,
        max_body_bytes: int,
    ) -> None:
        self.app = app
        self.routes = routes
        self.handlers = handlers
        self.recorder = recorder
        self.max_body_bytes = max_body_bytes

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
        start = time.perf_counter()
        request_id = request_id_of(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        scope["route"] = route  # the metrics' path label
        status = 500
        request = Request(scope, receive, send)
        try:
            try:
                limit = BodyLimit(scope, max(route.max_body_bytes or 0, self.max_body_bytes))
                if route.streams:  # it reads the body itself, each chunk counted here
                    request = Request(scope, _counted(receive, limit), send)
                    body = b""
                else:
                    body = await self._body(receive, limit)
                response = await route.serve(request, body)
            except Exception as exc:
                response = await self._error(request, exc)
            status = response.status_code
            # A prediction never sets its own caching: the safety headers are added as they are.
            response.raw_headers.extend(EXPRESS_HEADERS)
            response.raw_headers.append((b"x-request-id", request_id.encode()))
            await response(scope, receive, send)
        finally:
            self.recorder.record(scope, status, time.perf_counter() - start, request_id)

    async def _body(self, receive: Receive, limit: BodyLimit) -> bytes:
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnected("the client went away while sending its request")
            chunk = message.get("body", b"")
            limit.count(chunk)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def _error(self, request: Request, exc: Exception) -> Response:
        handler = next((self.handlers[c] for c in type(exc).__mro__ if c in self.handlers), None)
        if handler is not None:
            response: Response = await handler(request, exc)
            return response
        log.exception(
            "the prediction failed unexpectedly", extra={"request_id": request.state.request_id}
        )
        return error_response(
            500, "internal_error", "the server could not answer; the error is in its log"
        )
