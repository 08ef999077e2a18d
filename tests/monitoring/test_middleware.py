"""The request middleware at the ASGI level: body limit on received bytes, request ids."""

from __future__ import annotations

import json
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from servekit.monitoring.middleware import MonitoringMiddleware


async def echo_length(request: Request) -> JSONResponse:
    return JSONResponse({"received": len(await request.body()), "id": request.state.request_id})


def build(limit: int) -> MonitoringMiddleware:
    return MonitoringMiddleware(
        Starlette(routes=[Route("/echo", echo_length, methods=["POST"])]), max_body_bytes=limit
    )


def call(
    app: MonitoringMiddleware, chunks: list[bytes], headers: list[tuple[bytes, bytes]]
) -> tuple[int, dict[str, str], Any]:
    """Send a request whose body arrives in ``chunks`` and collect the response."""
    sent: list[dict[str, Any]] = []
    pending = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]

    async def receive() -> dict[str, Any]:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/echo", "raw_path": b"/echo", "query_string": b"", "root_path": "", "headers": headers,
        "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000),
    }  # fmt: skip
    anyio.run(app, scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    response_headers = {k.decode(): v.decode() for k, v in start["headers"]}
    try:
        return start["status"], response_headers, json.loads(body)
    except json.JSONDecodeError:
        return start["status"], response_headers, body.decode()


def test_body_is_limited_on_bytes_received_without_content_length() -> None:
    status, _, body = call(build(100), [b"x" * 60, b"x" * 60], [])
    assert status == 413
    # A plain Starlette app answers the HTTPException in its own format; servekit's app uses its own.
    assert "limit of 100 bytes" in str(body)


def test_a_small_false_content_length_does_not_get_a_large_body_through() -> None:
    status, _, _ = call(build(100), [b"x" * 80, b"x" * 80], [(b"content-length", b"10")])
    assert status == 413


def test_a_declared_length_over_the_limit_is_refused_at_once() -> None:
    status, _, _ = call(build(100), [b""], [(b"content-length", b"5000")])
    assert status == 413


def test_a_body_within_the_limit_passes_whole() -> None:
    status, _, body = call(build(100), [b"x" * 50, b"x" * 50], [])
    assert status == 200
    assert body["received"] == 100


def test_request_id_is_echoed_when_safe_and_generated_otherwise() -> None:
    _, headers, body = call(build(100), [b""], [(b"x-request-id", b"abc-123")])
    assert headers["x-request-id"] == "abc-123"
    assert body["id"] == "abc-123"
    _, headers, _ = call(build(100), [b""], [(b"x-request-id", b"bad id\twith spaces")])
    assert headers["x-request-id"] != "bad id\twith spaces"
    assert len(headers["x-request-id"]) == 32
