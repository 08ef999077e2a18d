"""The body size limit of a spawned server, whether the body declares its length or not."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import IRIS_SETOSA
from tests.e2e.server import Server, running_server

LIMIT = 2000


@pytest.fixture(scope="module")
def limited(examples_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server that accepts bodies of at most LIMIT bytes."""
    env = {"SERVEKIT_LIMITS__MAX_BODY_BYTES": str(LIMIT)}
    with running_server(examples_dir, tmp_path_factory.mktemp("limited"), env=env) as server:
        yield server


@pytest.fixture(scope="module")
def http(limited: Server) -> Iterator[httpx.Client]:
    """A client of the limited server."""
    with httpx.Client(base_url=limited.url, timeout=30.0) as client:
        yield client


def batch_body(rows: int) -> bytes:
    """A JSON batch of ``rows`` iris rows."""
    return json.dumps({"instances": [IRIS_SETOSA] * rows}).encode()


def chunks(body: bytes, size: int = 256) -> Iterator[bytes]:
    """The body in pieces, so that httpx streams it with chunked transfer encoding."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def post_chunked(http: httpx.Client, body: bytes) -> httpx.Response:
    """POST ``body`` to iris without a Content-Length."""
    response = http.post(
        "/models/iris/predict",
        content=chunks(body),
        headers={"Content-Type": "application/json"},
    )
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    return response


def assert_too_large(response: httpx.Response) -> None:
    """A 413 with a JSON body that names the limit."""
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["error"] == "body_too_large"
    assert str(LIMIT) in body["message"]


def test_chunked_body_over_the_limit_is_413(http: httpx.Client) -> None:
    body = batch_body(100)
    assert len(body) > LIMIT
    assert_too_large(post_chunked(http, body))


def test_declared_length_over_the_limit_is_413(http: httpx.Client) -> None:
    body = batch_body(100)
    response = http.post(
        "/models/iris/predict", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.request.headers["content-length"] == str(len(body))
    assert_too_large(response)


def test_declared_length_over_the_limit_is_413_before_validation(http: httpx.Client) -> None:
    # Not even JSON: the length alone decides, the body is never parsed.
    response = http.post(
        "/models/iris/predict", content=b"x" * (LIMIT + 1), headers={"Content-Type": "text/plain"}
    )
    assert_too_large(response)


def test_chunked_body_under_the_limit_is_predicted(http: httpx.Client) -> None:
    body = batch_body(10)
    assert len(body) < LIMIT
    response = post_chunked(http, body)
    assert response.status_code == 200
    assert len(response.json()["predictions"]) == 10


def test_declared_body_under_the_limit_is_predicted(http: httpx.Client) -> None:
    response = http.post("/models/iris/predict", json={"instances": [IRIS_SETOSA] * 10})
    assert response.status_code == 200
    assert len(response.json()["predictions"]) == 10


def test_refused_bodies_are_logged_as_413(limited: Server, http: httpx.Client) -> None:
    response = post_chunked(http, batch_body(100))
    assert_too_large(response)
    request_id = response.headers["x-request-id"]
    [line] = limited.access_records(request_id)
    assert line["status"] == 413


def test_server_keeps_serving_after_refusals(http: httpx.Client) -> None:
    for _ in range(3):
        assert_too_large(post_chunked(http, batch_body(100)))
    assert http.get("/readyz").status_code == 200
    assert http.post("/models/iris/predict", json=IRIS_SETOSA).status_code == 200
