"""The ASGI middleware around every request: request id, body limit, metrics and the access log."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servekit.ids import new_id
from servekit.monitoring.logging import AccessLog
from servekit.monitoring.metrics import REQUEST_LATENCY, REQUESTS

log = logging.getLogger("servekit.access")

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
UNMATCHED = "<unmatched>"
SAFETY_HEADERS = ((b"x-content-type-options", b"nosniff"),)
"""On every answer: a browser never guesses another type than the one given."""
NO_STORE = (b"cache-control", b"no-store")
"""On every answer that does not choose its own caching: API answers hold tokens and personal data."""
EXPRESS_HEADERS = (*SAFETY_HEADERS, NO_STORE)
"""The headers added to every prediction answer."""
EXPRESS_HEADERS_RAW = b"".join(b"%s: %s\r\n" % pair for pair in EXPRESS_HEADERS)
"""The same, as they are written on the wire."""


def with_safety_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``headers`` plus nosniff, and ``Cache-Control: no-store`` unless they set a Cache-Control."""
    extra = list(SAFETY_HEADERS)
    if not any(name.lower() == b"cache-control" for name, _ in headers):
        extra.append(NO_STORE)
    return [*headers, *extra]


class BodyTooLarge(HTTPException):
    """The request body grew past the limit while it was being received."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than the limit of {limit} bytes")


def request_id_of(scope: Scope) -> str:
    """The caller's ``X-Request-ID`` when it is safe to echo and to log, else a new id."""
    return request_id_in(scope["headers"])


def request_id_in(headers: list[tuple[bytes, bytes]]) -> str:
    """The ``X-Request-ID`` among these (lower-cased) headers when safe to echo, else a new id."""
    for name, value in headers:
        if name == b"x-request-id":
            candidate: str = value.decode("latin-1")
            if _VALID_REQUEST_ID.match(candidate):
                return candidate
    return new_id()


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyLimit:
    """The body limit of one request: its Content-Length checked first, then the bytes received.

    Counted on the bytes received, so a false or absent Content-Length cannot get past it.
    BodyTooLarge is an HTTPException, so that FastAPI's body parsing re-raises it as it is.
    """

    def __init__(self, scope: Scope, limit: int) -> None:
        """Refuse at once a request that declares a body over ``limit`` bytes."""
        self.limit = limit
        self.received = 0
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            raise BodyTooLarge(limit)

    def count(self, chunk: bytes) -> None:
        """Add a chunk of the body; refuse once the whole is over the limit."""
        self.received += len(chunk)
        if self.received > self.limit:
            raise BodyTooLarge(self.limit)


class RequestRecorder:
    """Counts and times each request by its route template, and writes its access-log line."""

    def __init__(self, template: Callable[[Scope], str | None] | None = None) -> None:
        """``template`` names a request's route in place of ``scope["route"].path`` (mounted apps)."""
        # Labelled children looked up once: labels() validates and locks on every call.
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._access = AccessLog(log)
        self._template = template

    def record(self, scope: Scope, status: int, elapsed: float, request_id: str) -> None:
        """One finished request: ``scope["route"]`` (if any) names its template."""
        route = scope.get("route")
        # The template, never the raw URL: one time series per route, whatever the path parameters.
        if self._template is None:
            path = getattr(route, "path", None) or UNMATCHED
        else:
            path = self._template(scope) or UNMATCHED
        method = scope["method"]
        key = (method, path, status)
        series = self._series.get(key)
        if series is None:
            # Bounded: methods x route templates x status codes.
            series = self._series[key] = (
                REQUESTS.labels(method, path, str(status)),
                REQUEST_LATENCY.labels(method, path),
            )
        series[0].inc()
        series[1].observe(elapsed)
        if not log.isEnabledFor(logging.INFO):
            return
        fields: dict[str, Any] = {
            "request_id": request_id,
            "method": method,
            "path": scope["path"],
            "route": path,
            "status": status,
            "duration_ms": round(elapsed * 1000, 3),
            "client": scope["client"][0] if scope.get("client") else None,
        }
        self._access.write(f"{method} {scope['path']} {status}", fields)


class MonitoringMiddleware:
    """Counts and times each request by its route template, limits its body, logs one JSON line."""

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, recorder: RequestRecorder | None = None
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.recorder = recorder or RequestRecorder()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Wrap one HTTP request; other scopes pass through."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id = request_id_of(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        started = False
        limit: BodyLimit | None = None

        async def limited_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request" and limit is not None:
                limit.count(message.get("body", b""))
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status = message["status"]
                started = True
                message["headers"] = [
                    *with_safety_headers(list(message.get("headers", []))),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            limit = BodyLimit(scope, self.max_body_bytes)
            await self.app(scope, limited_receive, send_with_id)
        except BodyTooLarge as exc:
            if started:
                raise
            await self._too_large(send_with_id, exc.detail)
        finally:
            self.recorder.record(scope, status, time.perf_counter() - start, request_id)

    async def _too_large(self, send: Send, message: str) -> None:
        body = json.dumps({"error": "body_too_large", "message": message}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
