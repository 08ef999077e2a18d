"""The express lane answers predictions exactly as the app's full stack would, and records them."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from servekit.api.express import ExpressLane
from tests.conftest import IRIS_SETOSA, AppFactory

PATH = "/models/iris/predict"


def requests_counted(status: str) -> float:
    labels = {"method": "POST", "path": PATH, "status": status}
    return REGISTRY.get_sample_value("api_requests_total", labels) or 0.0


def without_ids(body: Any) -> Any:
    if isinstance(body, dict):
        return {k: without_ids(v) for k, v in body.items() if k != "id"}
    if isinstance(body, list):
        return [without_ids(v) for v in body]
    return body


def through_router(client: TestClient, **request: Any) -> Any:
    """The same request to the same started app, sent behind the express lane (FastAPI's full stack)."""
    app = client.app
    lane = app.middleware_stack  # type: ignore[attr-defined]
    assert isinstance(lane, ExpressLane)
    app.middleware_stack = lane.app  # type: ignore[attr-defined]
    try:
        return client.post(PATH, **request)
    finally:
        app.middleware_stack = lane  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (b'{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}', {}),
        (
            b'{"instances": [{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}]}',
            {},
        ),
        (b'{"sepal_length": "wide"}', {}),
        (b"{not json", {}),
        (b'{"sepal_length": 5.1}', {"X-Request-Timeout": "soon"}),
        (b"x" * 2_000_000, {}),
    ],
    ids=["one-row", "instances", "invalid", "not-json", "bad-timeout", "too-large"],
)
def test_the_express_lane_answers_as_the_router_does(
    client: TestClient, content: bytes, headers: dict[str, str]
) -> None:
    headers = {"Content-Type": "application/json", **headers}
    fast = client.post(PATH, content=content, headers=headers)
    slow = through_router(client, content=content, headers=headers)
    assert fast.status_code == slow.status_code
    assert without_ids(fast.json()) == without_ids(slow.json())
    assert fast.headers["content-type"] == slow.headers["content-type"]
    assert fast.headers["x-request-id"]


def test_express_predictions_are_counted_with_their_status(client: TestClient) -> None:
    ok, invalid = requests_counted("200"), requests_counted("422")
    assert client.post(PATH, json=IRIS_SETOSA).status_code == 200
    assert client.post(PATH, json={"sepal_length": "wide"}).status_code == 422
    assert requests_counted("200") == ok + 1
    assert requests_counted("422") == invalid + 1


def test_an_unexpected_failure_is_a_500_in_the_error_shape_and_logged(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app()
    with TestClient(app) as client:
        service = app.state.served.get("iris")

        async def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("a bug")

        monkeypatch.setattr(service, "predict", broken)
        failed = requests_counted("500")
        logger = logging.getLogger("servekit.api")
        logger.addHandler(caplog.handler)
        try:
            response = client.post(PATH, json=IRIS_SETOSA, headers={"X-Request-ID": "bug-1"})
        finally:
            logger.removeHandler(caplog.handler)
    assert response.status_code == 500
    assert response.json()["error"] == "internal_error"
    assert "a bug" not in response.text  # details stay in the log
    assert response.headers["x-request-id"] == "bug-1"
    assert requests_counted("500") == failed + 1
    [record] = {id(r): r for r in caplog.records if r.name == "servekit.api"}.values()
    assert record.request_id == "bug-1"  # type: ignore[attr-defined]
    assert record.exc_info is not None
    assert "a bug" in str(record.exc_info[1])


def test_a_client_gone_while_sending_its_body_is_a_499(make_app: AppFactory) -> None:
    app = make_app()
    app.middleware_stack = app.build_middleware_stack()
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "method": "POST",
        "path": PATH,
        "headers": [(b"content-type", b"application/json")],
        "query_string": b"",
        "client": ("127.0.0.1", 1),
        "app": app,
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app.middleware_stack(scope, receive, send))
    assert sent[0]["status"] == 499
