"""``servekit.monitoring.instrument``: servekit's request monitoring on apps that are not servekit."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Mount, Route

from servekit.config import LogSettings
from servekit.monitoring import instrument


def count(method: str, path: str, status: int) -> float:
    value = REGISTRY.get_sample_value(
        "api_requests_total", {"method": method, "path": path, "status": str(status)}
    )
    return value or 0.0


def observed(method: str, path: str) -> float:
    labels = {"method": method, "path": path}
    return REGISTRY.get_sample_value("api_request_latency_seconds_count", labels) or 0.0


@pytest.fixture(autouse=True)
def _logging(restored_logging: None) -> None:
    """instrument() configures the servekit and uvicorn loggers: put back afterwards."""


def fastapi_app() -> FastAPI:
    app = FastAPI()

    @app.get("/gadgets/{gadget_id}")
    def gadget(gadget_id: int, request: Request) -> dict[str, Any]:
        return {"id": gadget_id, "request_id": request.state.request_id}

    @app.post("/gadgets")
    async def create(request: Request) -> dict[str, int]:
        return {"received": len(await request.body())}

    return app


def test_a_fastapi_app_counts_requests_by_route_template_and_serves_metrics() -> None:
    app = instrument(fastapi_app())
    before = count("GET", "/gadgets/{gadget_id}", 200)
    unmatched = count("GET", "<unmatched>", 404)
    with TestClient(app) as client:
        first = client.get("/gadgets/3")
        second = client.get("/gadgets/4", headers={"X-Request-ID": "caller-42"})
        assert client.get("/nowhere/at/all").status_code == 404
        page = client.get("/metrics")
    assert first.status_code == 200
    assert first.json()["request_id"] == first.headers["x-request-id"]
    assert second.headers["x-request-id"] == "caller-42"
    assert second.json()["request_id"] == "caller-42"
    assert count("GET", "/gadgets/{gadget_id}", 200) == before + 2
    assert count("GET", "<unmatched>", 404) == unmatched + 1
    assert observed("GET", "/gadgets/{gadget_id}") >= 2
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/plain")
    assert 'api_requests_total{method="GET",path="/gadgets/{gadget_id}",status="200"}' in page.text
    # No raw URL becomes a label: one series per template, whatever the ids.
    assert 'path="/gadgets/3"' not in page.text
    # /metrics is not part of the app's OpenAPI document.
    assert "/metrics" not in app.openapi()["paths"]


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"hello {request.path_params.get('name', '')}")


async def item(request: Request) -> JSONResponse:
    return JSONResponse({"item": request.path_params["item_id"]})


def test_a_starlette_app_names_routes_and_mounted_routes_by_their_templates() -> None:
    shop = Starlette(routes=[Route("/items/{item_id:int}", item)])
    app = instrument(Starlette(routes=[Route("/hello/{name}", hello), Mount("/shop", app=shop)]))
    app.add_route("/late/{thing}", hello)  # a route added after instrument() is named too
    before = {
        p: count("GET", p, 200)
        for p in ("/hello/{name}", "/shop/items/{item_id:int}", "/late/{thing}")
    }
    with TestClient(app) as client:
        assert client.get("/hello/ada").text == "hello ada"
        assert client.get("/shop/items/7").json() == {"item": 7}
        assert client.get("/late/x").status_code == 200
        assert client.get("/metrics").status_code == 200
    for path, value in before.items():
        assert count("GET", path, 200) == value + 1, path
    assert count("GET", "/metrics", 200) >= 1


def test_the_apps_own_lifespan_still_runs() -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, str]]:
        events.append("start")
        yield {"greeting": "hi"}
        events.append("stop")

    app = FastAPI(lifespan=lifespan)

    @app.get("/greeting")
    def greeting(request: Request) -> str:
        return str(request.state.greeting)

    instrument(app)
    with TestClient(app) as client:
        assert client.get("/greeting").json() == "hi"
    assert events == ["start", "stop"]


def test_the_body_limit_is_a_413_with_a_message() -> None:
    app = instrument(fastapi_app(), max_body_bytes=100)
    with TestClient(app) as client:
        assert client.post("/gadgets", content=b"x" * 100).json() == {"received": 100}
        refused = client.post("/gadgets", content=b"x" * 101)
    assert refused.status_code == 413
    assert refused.json() == {
        "error": "body_too_large",
        "message": "the request body is larger than the limit of 100 bytes",
    }


def test_instrumenting_twice_is_refused() -> None:
    app = instrument(fastapi_app())
    with pytest.raises(RuntimeError, match="already instrumented"):
        instrument(app)


def test_access_lines_and_the_apps_own_logs_are_json_with_the_request_id(
    capsys: pytest.CaptureFixture[str],
) -> None:
    app = FastAPI()
    shop_log = logging.getLogger("shop")

    @app.get("/sell/{what}")
    def sell(what: str) -> str:
        shop_log.warning("sold %s", what)
        return what

    instrument(app, loggers=["shop"], logs=LogSettings(flush_interval_s=0.05))
    with TestClient(app) as client:
        answer = client.get("/sell/tea", headers={"X-Request-ID": "abc-1"})
    for handler in logging.getLogger("servekit").handlers:
        handler.flush()
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    access = [line for line in lines if line.get("route") == "/sell/{what}"]
    assert len(access) == 1
    assert access[0]["request_id"] == "abc-1" == answer.headers["x-request-id"]
    assert access[0]["status"] == 200
    assert access[0]["path"] == "/sell/tea"
    assert any(line.get("message") == "sold tea" and line["logger"] == "shop" for line in lines)
