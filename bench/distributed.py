"""Distributed mode in the benchmark: scaling with workers, and what the Redis round trip costs.

The API and its workers share the server core (core 0), so distributed mode is measured with the
same CPU as the in-process server; wrk runs on core 1 and Redis wherever the system runs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import redis
import yaml

ROOT = Path(__file__).resolve().parent.parent
SERVER_CORE = 0
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
WORKERS = (1, 2, 4)
FIXED_BATCH = 4
"""The fixed-cost model's max_batch_size here: one worker then does at most 400 rows/s, so that
the workers, not the API, bound throughput and scaling shows."""

IN_PROCESS = "in-process batcher"


@dataclass(frozen=True)
class Setup:
    """One distributed-mode configuration to measure."""

    model: str
    mode: str
    workers: int


def variant(folder: Path, out: Path, **batching: float) -> Path:
    """A copy of a model folder with other batching settings."""
    shutil.copytree(folder, out)
    manifest = yaml.safe_load((out / "servekit.yaml").read_text())
    manifest["batching"] = {**manifest.get("batching", {}), **batching}
    (out / "servekit.yaml").write_text(yaml.safe_dump(manifest))
    return out


def _wait_workers(url: str, count: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            body = httpx.get(url + "/readyz", timeout=1).json()
            if body.get("workers", 0) >= count:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{count} worker(s) did not come up within {timeout:.0f} s")


@contextmanager
def fleet(models: Path, workers: int, port: int, log: Path, prefix: str) -> Iterator[str]:
    """An API on ``port`` and ``workers`` workers, all pinned to the server core, on one prefix."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SERVEKIT_REDIS_URL": REDIS_URL,
        "SERVEKIT_QUEUE__PREFIX": prefix,
        "SERVEKIT_DATA_DIR": str(models.parent / "data"),
    }
    pin = ["taskset", "-c", str(SERVER_CORE), sys.executable, "-m", "servekit"]
    procs: list[subprocess.Popen[bytes]] = []
    with ExitStack() as stack, log.open("ab") as out:
        for _ in range(workers):
            procs.append(
                subprocess.Popen(
                    [*pin, "worker", "--models", str(models)], env=env, stdout=out, stderr=out
                )
            )
        api = [*pin, "serve", "--allow-anonymous", "--models", str(models), "--port", str(port)]
        procs.append(subprocess.Popen(api, env=env, stdout=out, stderr=out))

        def stop() -> None:
            for p in procs:
                p.terminate()
            for p in procs:
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
            with redis.Redis.from_url(REDIS_URL) as r:
                keys = list(r.scan_iter(f"{prefix}:*"))
                if keys:
                    r.delete(*keys)

        stack.callback(stop)
        url = f"http://127.0.0.1:{port}"
        _wait_workers(url, workers)
        yield url
