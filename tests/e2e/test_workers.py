"""``--workers N``: requests spread over processes, and /metrics sums them exactly."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import IRIS_SETOSA
from tests.e2e.conftest import ServerFactory


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


async def burst(url: str, n: int) -> list[int]:
    # A new connection per request: the kernel hands each accept to a worker, so all of them serve.
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        semaphore = asyncio.Semaphore(32)

        async def one() -> int:
            async with semaphore:
                return (await client.post("/models/iris/predict", json=IRIS_SETOSA)).status_code

        return list(await asyncio.gather(*(one() for _ in range(n))))


def test_four_workers_share_1000_requests_and_metrics_count_exactly_1000(
    spawn_server: ServerFactory, examples_dir: Path, tmp_path: Path
) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_99999.db").write_bytes(b"stale file from an earlier run")
    server = spawn_server(env={"SERVEKIT_WORKERS": "4", "SERVEKIT_METRICS_DIR": str(metrics_dir)})
    # /readyz answers as soon as one worker is up: wait for all four before the burst.
    deadline = time.monotonic() + 60
    while (
        len([r for r in server.records() if r.get("message") == "Application startup complete."])
        < 4
    ):
        assert time.monotonic() < deadline, "not every worker started"
        time.sleep(0.1)
    assert asyncio.run(burst(server.url, 1000)) == [200] * 1000

    with httpx.Client(base_url=server.url) as client:
        page = client.get("/metrics").text
    predictions = samples(page, "servekit_predictions_total")
    assert predictions[(("model", "iris"), ("version", "1"))] == 1000
    requests = samples(page, "api_requests_total")
    assert (
        requests[(("method", "POST"), ("path", "/models/iris/predict"), ("status", "200"))] == 1000
    )
    # Every worker reports its own CPU and memory.
    cpu = samples(page, "process_cpu_seconds_total")
    assert len(cpu) == 4
    assert all(v > 0 for v in cpu.values())
    assert len(samples(page, "process_resident_memory_bytes")) == 4

    served_by = {
        r["pid"]
        for r in server.records()
        if r.get("logger") == "servekit.access" and r.get("status") == 200
    }
    assert len(served_by) >= 2, "the requests were not spread over the processes"
    assert server.process.pid not in served_by


def test_sigterm_to_the_supervisor_stops_every_worker(spawn_server: ServerFactory) -> None:
    server = spawn_server(env={"SERVEKIT_WORKERS": "2"})
    workers = {
        r["pid"] for r in server.records() if "Started server process" in r.get("message", "")
    }
    assert len(workers) == 2
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(15) == 0
    for pid in workers:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        raise AssertionError(f"worker {pid} outlived its supervisor")
