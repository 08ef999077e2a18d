"""``servekit worker`` and ``redis-server`` as real processes, for the distributed-mode tests."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from tests.e2e.server import STARTUP_TIMEOUT, clean_env, free_port, terminate


@dataclass
class WorkerProcess:
    """A running ``servekit worker`` and where its stderr goes."""

    process: subprocess.Popen[bytes]
    stderr_path: Path
    metrics_port: int

    @property
    def pid(self) -> int:
        """The worker's process id (the echo model logs it with each call)."""
        return self.process.pid

    def stderr(self) -> str:
        """Everything the worker wrote on stderr so far."""
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> int:
        """SIGTERM, wait; fails the test if the worker had to be killed."""
        return terminate(self.process, "worker", self.stderr)


def start_worker(models: Path, workdir: Path, env: Mapping[str, str]) -> WorkerProcess:
    """Spawn ``servekit worker`` and wait until it says it is serving."""
    port = free_port()
    stderr_path = workdir / f"worker-{port}.stderr"
    command = [sys.executable, "-m", "servekit", "worker", "--models", str(models)]
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [*command, "--metrics-port", str(port)],
            cwd=workdir,
            env=clean_env(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    worker = WorkerProcess(process, stderr_path, port)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        if " serving " in worker.stderr():
            return worker
        time.sleep(0.05)
    worker.stop()
    pytest.fail(f"worker did not start (exit {process.poll()}):\n{worker.stderr()}")


@contextmanager
def redis_server(workdir: Path) -> Iterator[RedisServer]:
    """A private ``redis-server`` (no persistence) that a test may stop and start again."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("this test runs its own Redis and needs redis-server on PATH")
    server = RedisServer(binary, free_port(), workdir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class RedisServer:
    """One redis-server process on a fixed port."""

    binary: str
    port: int
    workdir: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Where it listens."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start it and wait until it answers."""
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with redis.Redis(port=self.port, socket_connect_timeout=0.5) as client:
                    client.ping()
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
        pytest.fail(f"redis-server on port {self.port} did not start")

    def stop(self) -> None:
        """Stop it; what it held is gone (no persistence), as after a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


class KillWhenHolding:
    """An answer callback: from the ``after``-th answer on, kill -9 the worker once it holds jobs.

    So that it dies mid-batch, with jobs that another worker must take over.
    """

    def __init__(self, redis_url: str, stream: str, pid: int, after: int) -> None:
        self.redis_url = redis_url
        self.stream = stream
        self.pid = pid
        self.after = after
        self.killed = False

    def __call__(self, done: int) -> None:
        """Called with the number of answers so far."""
        if done < self.after or self.killed:
            return
        with redis.Redis.from_url(self.redis_url) as r:
            consumers = r.xinfo_consumers(self.stream, "workers")
        mine = [c for c in consumers if f"-{self.pid}-" in c["name"].decode()]
        if mine and mine[0]["pending"] > 0:
            os.kill(self.pid, signal.SIGKILL)
            self.killed = True
