"""Overload control in the app: bounded queues answer 503 at once, deadlines 504, bad headers 400."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
from fastapi import FastAPI
from prometheus_client import REGISTRY

from tests.conftest import AppFactory
from tests.slow import calls, seen, slow_repo

T = TypeVar("T")
PATH = "/models/slow/predict"


def serve(app: FastAPI, body: Callable[[httpx.AsyncClient], Awaitable[T]]) -> T:
    """Run ``body`` against the started app (lifespan included) on one event loop."""

    async def main() -> T:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://servekit") as client:
                return await body(client)

    return asyncio.run(main())


def rejections(reason: str) -> float:
    labels = {"model": "slow", "version": "1", "reason": reason}
    return REGISTRY.get_sample_value("servekit_rejections_total", labels) or 0.0


def test_a_full_queue_answers_503_with_retry_after_at_once(
    tmp_path: Path, make_app: AppFactory
) -> None:
    app = make_app(model_repository=slow_repo(tmp_path, 0.3), limits={"max_queue_rows": 2})
    before = rejections("queue_full")

    async def body(client: httpx.AsyncClient) -> None:
        running = asyncio.create_task(client.post(PATH, json={"x": 1.0}))
        await asyncio.sleep(0.1)  # the first call holds the model
        queued = asyncio.create_task(
            client.post(PATH, json={"instances": [{"x": 2.0}, {"x": 3.0}]})
        )
        await asyncio.sleep(0.05)
        start = time.monotonic()
        refused = await client.post(PATH, json={"x": 4.0})
        waited = time.monotonic() - start
        assert refused.status_code == 503
        assert int(refused.headers["retry-after"]) >= 1
        assert "limit is 2" in refused.json()["message"]
        assert waited < 0.25  # answered before the running call could have finished
        assert (await running).status_code == 200
        assert (await queued).json()["predictions"][1]["prediction"] == 6.0

    serve(app, body)
    assert rejections("queue_full") == before + 1
    assert 4.0 not in seen(tmp_path)


def test_a_deadline_that_passes_in_the_queue_gives_504_and_never_reaches_the_model(
    tmp_path: Path, make_app: AppFactory
) -> None:
    app = make_app(model_repository=slow_repo(tmp_path, 0.3))
    before = rejections("deadline")

    async def body(client: httpx.AsyncClient) -> None:
        running = asyncio.create_task(client.post(PATH, json={"x": 1.0}))
        await asyncio.sleep(0.05)
        late = await client.post(PATH, json={"x": 9.0}, headers={"X-Request-Timeout": "0.05"})
        assert late.status_code == 504
        assert late.json()["error"] == "deadline_exceeded"
        assert (await running).status_code == 200
        await asyncio.sleep(0.35)  # time for a (wrong) second call to show up in the log

    serve(app, body)
    assert seen(tmp_path) == [1.0]
    assert rejections("deadline") == before + 1


def test_the_timeout_header_only_shortens_the_server_deadline(
    tmp_path: Path, make_app: AppFactory
) -> None:
    app = make_app(model_repository=slow_repo(tmp_path, 0.2), limits={"request_timeout_s": 0.05})

    async def body(client: httpx.AsyncClient) -> Any:
        return await client.post(PATH, json={"x": 1.0}, headers={"X-Request-Timeout": "60"})

    assert serve(app, body).status_code == 504


def test_a_bad_timeout_header_is_400(tmp_path: Path, make_app: AppFactory) -> None:
    app = make_app(model_repository=slow_repo(tmp_path, 0.0))

    async def body(client: httpx.AsyncClient) -> list[httpx.Response]:
        return [
            await client.post(PATH, json={"x": 1.0}, headers={"X-Request-Timeout": value})
            for value in ("soon", "0", "-1", "nan", "inf")
        ]

    for response in serve(app, body):
        assert response.status_code == 400
        assert "X-Request-Timeout must be a positive number" in response.json()["message"]


def test_concurrent_single_rows_are_batched_together(tmp_path: Path, make_app: AppFactory) -> None:
    app = make_app(model_repository=slow_repo(tmp_path, 0.1))

    async def body(client: httpx.AsyncClient) -> list[httpx.Response]:
        first = asyncio.create_task(client.post(PATH, json={"x": 0.0}))
        await asyncio.sleep(0.03)
        rest = [asyncio.create_task(client.post(PATH, json={"x": float(i)})) for i in range(1, 21)]
        return [await first, *[await r for r in rest]]

    responses = serve(app, body)
    assert [r.json()["predictions"][0]["prediction"] for r in responses] == [
        2.0 * i for i in range(21)
    ]
    # The first row ran at once on the idle model; the 20 that arrived meanwhile went together.
    assert calls(tmp_path) == [[0.0], [float(i) for i in range(1, 21)]]


def test_batching_off_runs_one_call_per_request(tmp_path: Path, make_app: AppFactory) -> None:
    app = make_app(model_repository=slow_repo(tmp_path, 0.02), batching=False)

    async def body(client: httpx.AsyncClient) -> list[httpx.Response]:
        return list(
            await asyncio.gather(*(client.post(PATH, json={"x": float(i)}) for i in range(5)))
        )

    responses = serve(app, body)
    assert sorted(r.json()["predictions"][0]["prediction"] for r in responses) == [
        2.0 * i for i in range(5)
    ]
    assert sorted(calls(tmp_path)) == [[float(i)] for i in range(5)]


def test_a_full_queue_refuses_before_the_body_is_parsed(
    tmp_path: Path, make_app: AppFactory
) -> None:
    app = make_app(model_repository=slow_repo(tmp_path, 0.3), limits={"max_queue_rows": 1})

    async def body(client: httpx.AsyncClient) -> None:
        running = asyncio.create_task(client.post(PATH, json={"x": 1.0}))
        await asyncio.sleep(0.1)
        queued = asyncio.create_task(client.post(PATH, json={"x": 2.0}))
        await asyncio.sleep(0.05)
        # Not JSON, and no Content-Type: a 400 or a 415 if it were looked at; a 503 before that.
        refused = await client.post(PATH, content=b"{not json")
        assert refused.status_code == 503
        assert refused.json()["error"] == "overloaded"
        # The query-string form is refused the same way, before its query is validated.
        assert (await client.get(PATH, params={"x": "not a number"})).status_code == 503
        assert (await running).status_code == 200
        assert (await queued).status_code == 200

    serve(app, body)


def test_the_wait_bound_comes_from_the_manifest_else_from_the_server(
    tmp_path: Path, make_app: AppFactory
) -> None:
    server_default = make_app(model_repository=slow_repo(tmp_path / "a", 0.0))
    own = make_app(model_repository=slow_repo(tmp_path / "b", 0.0, max_queue_wait_ms=250))
    tuned = make_app(
        model_repository=slow_repo(tmp_path / "c", 0.0), limits={"max_queue_wait_ms": 40}
    )
    waits = [
        app.state.served.get("slow").executor.max_queue_wait for app in (server_default, own, tuned)
    ]
    assert waits == [0.010, 0.250, 0.040]
