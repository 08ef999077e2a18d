"""Distributed mode with real processes: ``servekit serve`` and ``servekit worker`` over the real Redis."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from servekit.queue.jobs import Keys
from tests.e2e.server import Server, running_server
from tests.queue.processes import KillWhenHolding, WorkerProcess, redis_server, start_worker
from tests.slow import pid_calls, slow_repo

TIMEOUT_S = 15.0
"""Each request's deadline (X-Request-Timeout); the client waits a little longer."""


@dataclass
class Answer:
    x: float
    status: int
    body: dict[str, Any]
    seconds: float


async def burst(
    url: str,
    xs: list[float],
    concurrency: int,
    on_answer: Callable[[int], None] = lambda done: None,
) -> list[Answer]:
    """POST one row per x, ``concurrency`` at a time; every request must get an HTTP answer."""
    answers: list[Answer] = []
    slots = asyncio.Semaphore(concurrency)
    headers = {"X-Request-Timeout": str(TIMEOUT_S)}
    async with httpx.AsyncClient(base_url=url, timeout=TIMEOUT_S + 5) as client:

        async def one(x: float) -> None:
            async with slots:
                start = time.monotonic()
                r = await client.post("/models/echo/predict", json={"x": x}, headers=headers)
                answers.append(Answer(x, r.status_code, r.json(), time.monotonic() - start))
                on_answer(len(answers))

        await asyncio.gather(*(one(x) for x in xs))
    return answers


def assert_all_right(answers: list[Answer]) -> None:
    wrong = [
        a for a in answers if a.status != 200 or a.body["predictions"][0]["prediction"] != 2 * a.x
    ]
    assert not wrong, wrong[:5]


@pytest.fixture
def fleet(tmp_path: Path, redis_url: str, prefix: str) -> Iterator[Callable[..., Any]]:
    """Start an API over the echo model and workers, all on one Redis and prefix; all stopped after."""
    with ExitStack() as stack:

        def start(
            workers: int, delay: float = 0.005, url: str = redis_url, **queue: str
        ) -> tuple[Path, Server, list[WorkerProcess]]:
            models = slow_repo(tmp_path / "models", delay, name="echo", max_batch_size=16)
            env = {"SERVEKIT_REDIS_URL": url, "SERVEKIT_QUEUE__PREFIX": prefix}
            env.update({f"SERVEKIT_QUEUE__{k.upper()}": v for k, v in queue.items()})
            procs = [start_worker(models, tmp_path, env) for _ in range(workers)]
            for p in procs:
                stack.callback(p.stop)
            server = stack.enter_context(running_server(models, tmp_path, env=env))
            return models, server, procs

        yield start


def test_workers_share_the_load_and_every_caller_gets_its_own_answer(
    fleet: Callable[..., Any],
) -> None:
    models, server, workers = fleet(2)
    answers = asyncio.run(burst(server.url, [float(i) for i in range(300)], concurrency=32))
    assert_all_right(answers)
    pids = {pid for pid, _ in pid_calls(models, "echo")}
    assert pids == {w.pid for w in workers}  # both took part
    ran = sorted(x for _, rows in pid_calls(models, "echo") for x in rows)
    assert ran == [float(i) for i in range(300)]  # each row ran exactly once


def test_kill_9_of_a_worker_during_a_burst_loses_no_request(
    fleet: Callable[..., Any], redis_url: str, prefix: str
) -> None:
    _, server, [victim, survivor] = fleet(2, delay=0.01, claim_after_s="1", heartbeat_s="0.2")
    kill_holding_jobs = KillWhenHolding(redis_url, Keys(prefix).jobs("echo", "1"), victim.pid, 100)

    answers = asyncio.run(burst(server.url, [float(i) for i in range(500)], 50, kill_holding_jobs))
    assert kill_holding_jobs.killed, "the victim never held a job after the 100th answer"
    assert victim.process.wait(5) == -signal.SIGKILL
    assert len(answers) == 500
    assert max(a.seconds for a in answers) < TIMEOUT_S
    assert_all_right(answers)
    # The survivor took over what the victim held when it died.
    metrics = httpx.get(f"http://127.0.0.1:{survivor.metrics_port}/metrics").text
    assert 'servekit_worker_reclaimed_total{model="echo",version="1"} 0.0' not in metrics
    # Each request answered once: the API counted exactly 500 predictions.
    api_metrics = httpx.get(f"{server.url}/metrics").text
    assert 'servekit_predictions_total{model="echo",version="1"} 500.0' in api_metrics


def test_a_poison_job_is_dead_lettered_while_the_others_succeed(
    fleet: Callable[..., Any], redis_url: str, prefix: str
) -> None:
    _, server, _ = fleet(2, claim_after_s="0.3", heartbeat_s="0.1")

    async def traffic() -> tuple[list[Answer], list[Answer]]:
        return await asyncio.gather(
            burst(server.url, [-1.0], 1), burst(server.url, [float(i) for i in range(50)], 10)
        )

    [poison], good = asyncio.run(traffic())
    assert_all_right(good)
    assert poison.status == 500
    assert poison.body["error"] == "prediction_failed"
    with redis.Redis.from_url(redis_url) as r:
        [(_, dead)] = r.xrange(Keys(prefix).dead("echo", "1"))
    assert dead[b"deliveries"] == b"3"
    assert b"poison" in dead[b"error"]


def test_sigterm_of_a_worker_during_traffic_loses_no_job(fleet: Callable[..., Any]) -> None:
    _, server, [leaving, staying] = fleet(2, delay=0.01)

    def stop_at_50(done: int) -> None:
        if done == 50:
            leaving.process.send_signal(signal.SIGTERM)

    answers = asyncio.run(burst(server.url, [float(i) for i in range(300)], 32, stop_at_50))
    assert leaving.process.wait(10) == 0
    assert "stopped" in leaving.stderr()
    assert_all_right(answers)
    assert staying.process.poll() is None


def test_redis_stopped_then_started_gives_503s_then_recovers_without_restarts(
    fleet: Callable[..., Any], tmp_path: Path
) -> None:
    with redis_server(tmp_path) as own_redis:
        _, server, [worker] = fleet(1, url=own_redis.url)
        assert_all_right(asyncio.run(burst(server.url, [1.0, 2.0, 3.0], 3)))

        own_redis.stop()
        down = asyncio.run(burst(server.url, [float(i) for i in range(20)], 4))
        assert {a.status for a in down} == {503}
        assert all(a.body["error"] == "overloaded" for a in down)
        assert max(a.seconds for a in down) < TIMEOUT_S  # answered, not left hanging
        ready = httpx.get(f"{server.url}/readyz")
        assert ready.status_code == 503
        assert ready.json()["queue"] == "unreachable"

        own_redis.start()
        back = time.monotonic()
        while True:
            [answer] = asyncio.run(burst(server.url, [7.0], 1))
            if answer.status == 200:
                break
            assert time.monotonic() - back < 10, "no success within 10 s of Redis's return"
            time.sleep(0.1)
        assert_all_right(asyncio.run(burst(server.url, [float(i) for i in range(50)], 8)))
        assert httpx.get(f"{server.url}/readyz").status_code == 200
        assert worker.process.poll() is None
        assert server.process.poll() is None
