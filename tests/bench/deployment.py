"""Seed 004's design as real processes: its API and its model workers, started and stopped."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import EXIT_TIMEOUT, free_port

ROOT = Path(__file__).parents[2]
"""The repository: ``python -m bench.seed004`` runs from here."""
READY_TIMEOUT = 60.0
"""Seconds the API has to answer ``GET /`` and each worker to say it is ready (torch's import)."""


@dataclass
class Process:
    """One of the deployment's processes and the file its stderr goes to."""

    name: str
    popen: subprocess.Popen[bytes]
    stderr_path: Path

    def stderr(self) -> str:
        """Everything the process wrote on stderr so far."""
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def served(self) -> int:
        """How many jobs a worker (run at ``--log-level info``) says it served."""
        return self.stderr().count(" served job ")

    def check_alive(self) -> None:
        """Fail the test, with its stderr, if the process has exited."""
        code = self.popen.poll()
        if code is not None:
            pytest.fail(f"{self.name} exited with {code}; stderr:\n{self.stderr()}")


@dataclass
class Deployment:
    """The API on ``url`` and the workers that take its jobs from ``queue``."""

    url: str
    queue: str
    uploads: Path
    api: Process
    workers: list[Process] = field(default_factory=list)


def _spawn(name: str, args: list[str], workdir: Path) -> Process:
    stderr_path = workdir / f"{name}.stderr"
    with stderr_path.open("wb") as stderr:
        popen = subprocess.Popen(
            [sys.executable, "-m", "bench.seed004", *args],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    return Process(name, popen, stderr_path)


def _wait_ready(deployment: Deployment) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    waiting = [deployment.api, *deployment.workers]
    with httpx.Client(base_url=deployment.url, timeout=2.0) as client:
        while waiting and time.monotonic() < deadline:
            for process in list(waiting):
                process.check_alive()
                if process is deployment.api:
                    try:
                        ready = client.get("/").status_code == 200
                    except httpx.TransportError:
                        ready = False
                else:
                    ready = " ready: " in process.stderr()
                if ready:
                    waiting.remove(process)
            time.sleep(0.05)
    if waiting:
        names = ", ".join(p.name for p in waiting)
        pytest.fail(f"not ready after {READY_TIMEOUT}s: {names}")


def _stop(processes: list[Process]) -> None:
    """SIGTERM to all at once (a second would force them out), then each waited for.

    Fails unless every one exits with 0 in time; one that lingers is killed.
    """
    for process in processes:
        if process.popen.poll() is None:
            process.popen.send_signal(signal.SIGTERM)
    failed = []
    for process in processes:
        try:
            code = process.popen.wait(EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.popen.kill()
            process.popen.wait()
            failed.append(f"{process.name} lingered {EXIT_TIMEOUT}s after SIGTERM")
            continue
        if code != 0:
            failed.append(f"{process.name} exited with {code}; stderr:\n{process.stderr()}")
    if failed:
        pytest.fail("\n".join(failed))


@contextmanager
def running(
    *, model: Path, redis_url: str, queue: str, workdir: Path, workers: int, blocking: bool = False
) -> Iterator[Deployment]:
    """The API and ``workers`` workers, ready; all stopped (and checked) after the block."""
    port = free_port()
    uploads = workdir / "uploads"
    common = ["--redis-url", redis_url, "--uploads", str(uploads), "--queue", queue]
    processes: list[Process] = []
    try:
        spawned = [
            _spawn(
                f"worker-{i}",
                ["worker", *common, "--model", str(model), "--log-level", "info"],
                workdir,
            )
            for i in range(workers)
        ]
        processes.extend(spawned)
        waits = "--blocking" if blocking else "--awaiting"
        api = _spawn("api", ["api", "--port", str(port), *common, waits], workdir)
        processes.append(api)
        deployment = Deployment(f"http://127.0.0.1:{port}", queue, uploads, api, spawned)
        _wait_ready(deployment)
        yield deployment
    finally:
        _stop(processes)
