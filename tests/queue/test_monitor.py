"""``/monitor/snapshot`` in distributed mode: workers' parts come through Redis, and go with them."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY

from servekit.queue.connection import connect
from servekit.queue.monitor import PartPublisher
from tests.e2e.server import running_server
from tests.e2e.snapshots import CountedClient, Snapshot, expected_requests, model, requests_delta
from tests.queue.processes import RedisServer, redis_server, start_worker
from tests.slow import pid_calls, slow_repo


def echo(snapshot: Snapshot) -> dict[str, Any]:
    return model(snapshot, "echo")


def test_workers_batches_appear_through_redis_and_go_when_they_stop(
    tmp_path: Path, redis_url: str, prefix: str
) -> None:
    models = slow_repo(tmp_path / "models", 0.0, name="echo", max_batch_size=16)
    env = {
        "SERVEKIT_REDIS_URL": redis_url,
        "SERVEKIT_QUEUE__PREFIX": prefix,
        "SERVEKIT_QUEUE__MONITOR_INTERVAL_S": "0.2",  # parts expire after 0.6 s
    }
    with ExitStack() as stack:
        leaving, killed = (start_worker(models, tmp_path, env) for _ in range(2))
        stack.callback(leaving.stop)
        stack.callback(killed.stop)
        server = stack.enter_context(running_server(models, tmp_path, env=env))
        client = CountedClient(server.url)
        stack.callback(client.close)

        before = client.wait_for(lambda s: s["workers"] == 2, "both workers")
        assert before["processes"]["count"] == 3  # the API's process and the two workers'
        assert echo(before)["batch"]["count"] == 0

        auth = client.sign_up("ada@example.com")
        for x in range(20):
            body = {"x": float(x)}
            assert client.request("POST", "/models/echo/predict", json=body).status_code == 200
        answer = client.request(
            "POST", "/models/echo/predict", json={"x": 10.0}, headers=auth
        ).json()
        [prediction] = answer["predictions"]
        assert prediction["prediction"] == 20.0
        client.feedback({"prediction_id": prediction["id"], "value": 23.0}, auth)

        # The workers ran 21 rows; their counts reach the snapshot at their next publication.
        after = client.wait_for(lambda s: echo(s)["batch"]["sum"] == 21, "the workers' 21 rows")
        assert requests_delta(before, after) == expected_requests(client.statuses)
        assert after["workers"] == 2
        assert echo(after)["predictions"] == 21  # counted by the API
        assert echo(after)["inference"]["count"] == echo(after)["batch"]["count"]
        assert echo(after)["feedback"]["mae"] == 3.0
        assert echo(after)["queue_depth"] == 0

        # A worker that stops leaves at once; its rows are no longer in the sums.
        leaving.stop()
        ran_by_killed = sum(len(xs) for pid, xs in pid_calls(models, "echo") if pid == killed.pid)
        one = client.wait_for(lambda s: s["workers"] == 1, "one worker left")
        assert one["processes"]["count"] == 2
        assert echo(one)["batch"]["sum"] == ran_by_killed
        # One killed leaves nothing behind but its part, which expires.
        os.kill(killed.pid, signal.SIGKILL)
        killed.process.wait()
        none = client.wait_for(lambda s: s["workers"] == 0, "no worker left")
        assert none["processes"]["count"] == 1
        assert echo(none)["batch"] == echo(before)["batch"]
        assert echo(none)["predictions"] == 21


class Said(logging.Handler):
    """Keeps the worker's log messages, and sets an event when one says ``awaited``."""

    def __init__(self, awaited: str) -> None:
        super().__init__()
        self.awaited = awaited
        self.said = asyncio.Event()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
        if self.awaited in self.messages[-1]:
            self.said.set()


def test_a_worker_that_cannot_publish_says_so_once_and_carries_on(tmp_path: Path) -> None:
    key = "servekit-test-monitor:monitor:w1"
    logger = logging.getLogger("servekit.worker")

    async def publish_through_an_outage(server: RedisServer) -> list[str]:
        client = connect(server.url)
        publisher = PartPublisher(client, key, REGISTRY, [("echo", "1")], interval_s=0.01)
        stopping = asyncio.Event()
        failing, again = Said("cannot publish"), Said("again")
        for handler in (failing, again):
            logger.addHandler(handler)
        task = asyncio.create_task(publisher.run(stopping))
        try:
            async with asyncio.timeout(20):
                await failing.said.wait()
                await asyncio.sleep(0.1)  # more attempts fail meanwhile, unsaid
                server.start()
                await again.said.wait()
            assert await client.exists(key)
        finally:
            stopping.set()
            await task
            for handler in (failing, again):
                logger.removeHandler(handler)
            await publisher.withdraw()
            await client.aclose()
        return failing.messages

    with redis_server(tmp_path) as server:
        server.stop()
        previous = logger.level
        logger.setLevel(logging.INFO)
        try:
            messages = asyncio.run(publish_through_an_outage(server))
        finally:
            logger.setLevel(previous)
    assert len([m for m in messages if "cannot publish" in m]) == 1
    assert len([m for m in messages if "again" in m]) == 1
