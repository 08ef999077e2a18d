"""The deployments a sweep starts on this machine, each stopped with everything it started.

``batching`` and ``no-batching`` are one ``servekit serve`` process; ``workers-N`` is an API and
N ``servekit worker`` processes on Redis; ``seed004-N`` is seed 004's own design (``bench/seed004``
in the repository: an API that pushes each job to a Redis list and polls for its answer, and N
workers that run one image at a time) as its template is written, with synchronous Redis calls
and ``time.sleep`` in the async route, and ``seed004-async-N`` the same design with both awaited;
``url`` is a server someone else started.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis

STARTUP_S = 120.0
"""How long a deployment may take to say it is ready."""

LOADTEST_EMAIL = "loadtest@example.com"

SERVEKIT_CLASSES = {
    "iris": "servekit.loadtest.locustfile:IrisPredict",
    "digits": "servekit.loadtest.locustfile:DigitsUpload",
    "ner": "servekit.loadtest.locustfile:NerText",
    "forecast": "servekit.loadtest.locustfile:Forecast",
    "latency": "servekit.loadtest.users:FixedLatencyPredict",
}
SEED_CLASSES = {"digits": "bench.seed004.locustfile:Seed004Upload"}

_KIND = re.compile(
    r"^(batching|no-batching|url|workers-(?P<workers>[1-9]\d*)"
    r"|seed004-(?P<awaiting>async-)?(?P<seed>[1-9]\d*))$"
)


class DeploymentError(RuntimeError):
    """A deployment that cannot start here; the message says why and what to do."""


@dataclass
class Target:
    """A running deployment: where to send load, and the processes that serve it."""

    name: str
    url: str
    classes: dict[str, str]
    """The Locust user class for each model it serves."""
    env: dict[str, str] = field(default_factory=dict)
    """What Locust needs in its environment (credentials)."""
    pids: dict[str, list[int]] = field(default_factory=dict)
    """Its processes by role (``api``, ``workers``), for their CPU; empty for ``url``."""
    redis_url: str | None = None
    servekit: bool = True
    """Whether it is servekit (it then has ``/monitor/snapshot``)."""


@dataclass(frozen=True)
class Place:
    """What every deployment of one sweep shares: the models, a work folder, Redis."""

    models: Path
    work: Path
    redis_url: str
    seed_root: Path | None
    """The repository holding ``bench/seed004``, when there is one."""


def parse(name: str) -> str:
    """``name`` when it is a deployment this module knows, else a DeploymentError saying which are."""
    if not _KIND.match(name):
        raise DeploymentError(
            f"unknown deployment {name!r}: use batching, no-batching, workers-N, seed004-N, "
            "seed004-async-N or url"
        )
    return name


def needs_redis(name: str) -> bool:
    """Whether the deployment runs on Redis."""
    return name.startswith(("workers-", "seed004-"))


@contextmanager
def started(name: str, place: Place) -> Iterator[Target]:
    """Start deployment ``name``; stop all it started when the block ends, however it ends."""
    match = _KIND.match(parse(name))
    assert match is not None
    with ExitStack() as stack:
        if match["seed"]:
            yield _seed(name, int(match["seed"]), place, stack, blocking=not match["awaiting"])
        else:
            yield _servekit(name, int(match["workers"] or 0), place, stack)


def _servekit(name: str, workers: int, place: Place, stack: ExitStack) -> Target:
    data = place.work / name
    data.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(16)
    prefix = f"servekit-loadtest-{secrets.token_hex(4)}"
    env = {
        **os.environ,
        "SERVEKIT_DATA_DIR": str(data),
        "SERVEKIT_BOOTSTRAP_ADMIN__EMAIL": LOADTEST_EMAIL,
        "SERVEKIT_BOOTSTRAP_ADMIN__NAME": "Load test",
        "SERVEKIT_BOOTSTRAP_ADMIN__PASSWORD": password,
        "SERVEKIT_BATCHING": "false" if name == "no-batching" else "true",
        "SERVEKIT_LOG__LEVEL": "WARNING",
    }
    for unset in ("SERVEKIT_REDIS_URL", "SERVEKIT_DATABASE_URL", "DATABASE_URL"):
        env.pop(unset, None)
    if workers:
        # Workers publish what their model calls took twice a second, for the cells' readings.
        env |= {
            "SERVEKIT_REDIS_URL": place.redis_url,
            "SERVEKIT_QUEUE__PREFIX": prefix,
            "SERVEKIT_QUEUE__MONITOR_INTERVAL_S": "0.5",
        }
        stack.callback(_forget, place.redis_url, prefix)
    port = free_port()
    server = [sys.executable, "-m", "servekit"]
    fleet = [
        _spawn(
            [*server, "worker", "--models", str(place.models)], env, data / f"worker-{i}.log", stack
        )
        for i in range(workers)
    ]
    api = _spawn(
        [*server, "serve", "--models", str(place.models), "--port", str(port)],
        env,
        data / "api.log",
        stack,
    )
    url = f"http://127.0.0.1:{port}"
    _wait_ready(url, [api, *fleet], workers=workers, log=data / "api.log")
    return Target(
        name=name,
        url=url,
        classes=dict(SERVEKIT_CLASSES),
        env={"SERVEKIT_EMAIL": LOADTEST_EMAIL, "SERVEKIT_PASSWORD": password},
        pids={"api": [api.pid], "workers": [w.pid for w in fleet]},
        redis_url=place.redis_url if workers else None,
    )


def _seed(name: str, workers: int, place: Place, stack: ExitStack, *, blocking: bool) -> Target:
    root = place.seed_root
    if root is None:
        raise DeploymentError(
            "seed004 needs the repository's bench/seed004 (run servekit loadtest from a clone)"
        )
    digits = place.models / "digits"
    if not digits.is_dir():
        raise DeploymentError("seed004 serves the digits model, which is not served here")
    data = place.work / name
    uploads = data / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    queue = f"servekit-loadtest-seed-{secrets.token_hex(4)}"
    stack.callback(_forget, place.redis_url, queue)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
    }
    common = ["--redis-url", place.redis_url, "--uploads", str(uploads), "--queue", queue]
    seed = [sys.executable, "-m", "bench.seed004"]
    fleet = [
        _spawn(
            [*seed, "worker", *common, "--model", str(digits)],
            env,
            data / f"worker-{i}.log",
            stack,
            cwd=root,
        )
        for i in range(workers)
    ]
    port = free_port()
    api = _spawn(
        [*seed, "api", *common, "--port", str(port), "--blocking" if blocking else "--awaiting"],
        env,
        data / "api.log",
        stack,
        cwd=root,
    )
    url = f"http://127.0.0.1:{port}"
    _wait_ready(url, [api, *fleet], workers=0, log=data / "api.log", path="/")
    return Target(
        name=name,
        url=url,
        classes=dict(SEED_CLASSES),
        env={"PYTHONPATH": env["PYTHONPATH"]},  # Locust imports bench.seed004.locustfile
        pids={"api": [api.pid], "workers": [w.pid for w in fleet]},
        redis_url=place.redis_url,
        servekit=False,
    )


def external(url: str) -> Target:
    """A server started by someone else: credentials come from the environment Locust reads."""
    return Target(name="url", url=url.rstrip("/"), classes=dict(SERVEKIT_CLASSES))


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def redis_reachable(url: str) -> str | None:
    """None when Redis answers at ``url``, else why not."""
    try:
        with redis.Redis.from_url(url, socket_connect_timeout=2) as r:
            r.ping()
    except redis.RedisError as exc:
        return f"Redis at {url} is not reachable ({exc})"
    return None


def _spawn(
    command: list[str], env: dict[str, str], log: Path, stack: ExitStack, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    out = stack.enter_context(log.open("ab"))
    process = subprocess.Popen(command, env=env, stdout=out, stderr=out, cwd=cwd)
    stack.callback(_stop, process)
    return process


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_ready(
    url: str,
    processes: list[subprocess.Popen[bytes]],
    *,
    workers: int,
    log: Path,
    path: str = "/readyz",
) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise DeploymentError(
                    f"{' '.join(map(str, process.args))} exited with {process.returncode}; see {log.parent}"  # type: ignore[arg-type]
                )
        try:
            answer = httpx.get(url + path, timeout=2)
            if answer.status_code == 200 and answer.json().get("workers", 0) >= workers:
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.25)
    raise DeploymentError(f"{url} was not ready within {STARTUP_S:.0f} s; see {log.parent}")


def _forget(url: str, prefix: str) -> None:
    """Delete what a deployment left in Redis under its own prefix."""
    try:
        with redis.Redis.from_url(url) as r:
            keys = list(r.scan_iter(f"{prefix}*"))
            if keys:
                r.delete(*keys)
    except redis.RedisError:
        pass
