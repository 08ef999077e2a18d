"""``servekit serve`` as a real process: spawned on a free port, waited for, stopped and checked."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from servekit.loadtest.deployments import free_port

STARTUP_TIMEOUT = 30.0
"""Seconds a server has to answer ``GET /readyz`` with 200 (imports and model loading included)."""

EXIT_TIMEOUT = 10.0
"""Seconds a server has to exit after SIGTERM before it is killed."""

LOG_TIMEOUT = 5.0
"""Seconds to wait for a log line to reach the stderr file."""

Record = dict[str, Any]


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any servekit setting or ``PORT``, plus ``extra``.

    Anonymous predictions are allowed (these tests are about serving; accounts are tested in-app).
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith("SERVEKIT_") and k.upper() != "PORT"
    }
    env["SERVEKIT_ALLOW_ANONYMOUS"] = "true"
    env.update(extra or {})
    return env


@dataclass
class Server:
    """A running ``servekit serve`` process and where its stderr goes."""

    process: subprocess.Popen[bytes]
    port: int
    stderr_path: Path

    @property
    def url(self) -> str:
        """Base URL of the server."""
        return f"http://127.0.0.1:{self.port}"

    def stderr(self) -> str:
        """Everything the process wrote on stderr so far."""
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def records(self) -> list[Record]:
        """Each complete stderr line parsed as JSON; a line that is not a JSON object fails the test."""
        text = self.stderr()
        records = []
        # A last line without its newline may still be being written: it is read next time.
        for line in text[: text.rfind("\n") + 1].splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                pytest.fail(f"stderr line is not JSON: {line!r}")
            assert isinstance(record, dict), f"stderr line is not a JSON object: {line!r}"
            records.append(record)
        return records

    def wait_for_records(self, match: Callable[[Record], bool]) -> list[Record]:
        """The log records that ``match``, once at least one has been written."""
        deadline = time.monotonic() + LOG_TIMEOUT
        while True:
            found = [r for r in self.records() if match(r)]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.02)

    def access_records(self, request_id: str) -> list[Record]:
        """The access-log lines of one request, once at least one has been written."""
        return self.wait_for_records(
            lambda r: r.get("logger") == "servekit.access" and r.get("request_id") == request_id
        )

    def stop(self) -> int:
        """SIGTERM, wait, kill if it lingers; fails the test if it had to be killed."""
        return terminate(self.process, "server", self.stderr)


def terminate(process: subprocess.Popen[bytes], what: str, stderr: Callable[[], str]) -> int:
    """SIGTERM, wait, kill if it lingers; fails the test (showing ``stderr()``) if it had to be killed."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail(
                f"{what} did not exit within {EXIT_TIMEOUT}s of SIGTERM; stderr:\n{stderr()}"
            )
    return process.returncode


def _wait_ready(server: Server) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    with httpx.Client(base_url=server.url, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                break
            try:
                if client.get("/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
    code = server.process.poll()
    state = f"exited with {code}" if code is not None else f"not ready after {STARTUP_TIMEOUT}s"
    server.stop()
    pytest.fail(f"server on port {server.port} {state}; stderr:\n{server.stderr()}")


def serve_command(models: Path, port: int | None = None) -> list[str]:
    """The ``servekit serve`` command line, with ``--port`` when a port is given."""
    command = [sys.executable, "-m", "servekit", "serve", "--models", str(models)]
    return command if port is None else [*command, "--port", str(port)]


def start_server(
    models: Path,
    workdir: Path,
    *,
    port: int | None = None,
    port_flag: bool = True,
    env: Mapping[str, str] | None = None,
) -> Server:
    """Spawn ``servekit serve`` in ``workdir`` and wait until it is ready on ``port``.

    ``port_flag=False`` leaves ``--port`` out, so that the environment decides (``port`` is then
    where the server is expected to listen). Settings in the caller's environment are dropped.
    """
    port = free_port() if port is None else port
    stderr_path = workdir / f"server-{port}.stderr"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            serve_command(models, port if port_flag else None),
            cwd=workdir,
            env=clean_env(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    server = Server(process=process, port=port, stderr_path=stderr_path)
    _wait_ready(server)
    return server


@contextmanager
def running_server(
    models: Path,
    workdir: Path,
    *,
    port: int | None = None,
    port_flag: bool = True,
    env: Mapping[str, str] | None = None,
) -> Iterator[Server]:
    """A ready server for the duration of the block; stopped after it, and checked to exit with 0."""
    server = start_server(models, workdir, port=port, port_flag=port_flag, env=env)
    try:
        yield server
    finally:
        code = server.stop()
    if code != 0:
        pytest.fail(f"server exited with {code}; stderr:\n{server.stderr()}")
