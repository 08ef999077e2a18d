"""The access log of a spawned server: one JSON line a request on stderr, tied to the request id."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import IRIS_SETOSA
from tests.e2e.server import Record, Server

GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")


def unique_id(prefix: str) -> str:
    """A request id no other request of the run carries."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def one_access_line(server: Server, http: httpx.Client, request_id: str) -> Record:
    """The single access-log line of ``request_id``.

    A second request is logged first (``barrier``), so that a duplicate line of the first one would
    have been written by the time the lines are counted.
    """
    barrier = unique_id("barrier")
    http.get("/healthz", headers={"X-Request-ID": barrier})
    assert server.access_records(barrier), f"no access line for {barrier}"
    lines = server.access_records(request_id)
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/healthz", None, 200),
        ("GET", "/models/iris", None, 200),
        ("POST", "/models/iris/predict", IRIS_SETOSA, 200),
        ("POST", "/models/iris/predict", {"instances": [IRIS_SETOSA] * 5}, 200),
        ("POST", "/models/iris/predict", {"sepal_length": "long"}, 422),
        ("POST", "/models/no-such-model/predict", IRIS_SETOSA, 404),
        ("GET", "/no/such/page", None, 404),
    ],
)
def test_each_request_writes_one_json_line(
    server: Server, http: httpx.Client, method: str, path: str, body: Any, status: int
) -> None:
    request_id = unique_id("one-line")
    response = http.request(method, path, json=body, headers={"X-Request-ID": request_id})
    assert response.status_code == status
    line = one_access_line(server, http, request_id)
    assert line["method"] == method
    assert line["path"] == path
    assert line["status"] == status
    assert isinstance(line["duration_ms"], float | int)
    assert line["duration_ms"] >= 0
    assert line["level"] == "info"


def test_client_request_id_is_echoed_and_logged(server: Server, http: httpx.Client) -> None:
    request_id = unique_id("client-id")
    response = http.post(
        "/models/iris/predict", json=IRIS_SETOSA, headers={"X-Request-ID": request_id}
    )
    assert response.status_code == 200
    assert response.headers["x-request-id"] == request_id
    line = one_access_line(server, http, request_id)
    assert line["status"] == 200


def test_a_request_without_id_gets_a_generated_one(server: Server, http: httpx.Client) -> None:
    first = http.get("/healthz").headers["x-request-id"]
    second = http.get("/healthz").headers["x-request-id"]
    assert GENERATED_ID.match(first)
    assert GENERATED_ID.match(second)
    assert first != second
    assert one_access_line(server, http, first)["path"] == "/healthz"


@pytest.mark.parametrize(
    "unsafe",
    ["has spaces in it", "x" * 500, "semi;colon", 'quote"injection', "new\\nline"],
    ids=["spaces", "500-chars", "semicolon", "quote", "backslash"],
)
def test_an_unsafe_request_id_is_replaced_not_echoed(
    server: Server, http: httpx.Client, unsafe: str
) -> None:
    response = http.get("/healthz", headers={"X-Request-ID": unsafe})
    assert response.status_code == 200
    replacement = response.headers["x-request-id"]
    assert replacement != unsafe
    assert GENERATED_ID.match(replacement)
    one_access_line(server, http, replacement)
    assert unsafe not in server.stderr()


def test_every_stderr_line_is_a_json_object(server: Server, http: httpx.Client) -> None:
    http.post("/models/iris/predict", json={**IRIS_SETOSA, "sepal_length": 50})
    records = server.records()
    assert records
    for record in records:
        assert {"time", "level", "logger", "message"} <= set(record), record
    loggers = {r["logger"] for r in records}
    assert "servekit.access" in loggers
    assert "servekit.serving" in loggers
