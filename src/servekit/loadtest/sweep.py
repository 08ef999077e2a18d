"""A sweep: for each deployment, start it, run every cell (model x users) on it, stop it.

A cell is one Locust run (``drive.py``, a process of its own) with a warm-up and a fixed
duration, read around by ``usage`` for what limited it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from servekit.loadtest import drive, usage
from servekit.loadtest.deployments import (
    DeploymentError,
    Place,
    Target,
    external,
    needs_redis,
    redis_reachable,
    started,
)


@dataclass(frozen=True)
class Scenario:
    """One model under load: at these user counts, on these deployments."""

    model: str
    users: tuple[int, ...]
    deployments: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    """What a sweep runs, and for how long each cell."""

    scenarios: tuple[Scenario, ...]
    warmup_s: float
    duration_s: float

    def deployments(self) -> list[str]:
        """Every deployment, in first-named order."""
        return list(dict.fromkeys(d for s in self.scenarios for d in s.deployments))

    def cells(self, deployment: str) -> list[tuple[str, int]]:
        """The (model, users) cells to run on one deployment."""
        return [
            (s.model, u) for s in self.scenarios if deployment in s.deployments for u in s.users
        ]


FULL = Plan(
    scenarios=(
        Scenario("iris", (1, 10, 64, 100), ("batching", "no-batching", "workers-1", "workers-2")),
        Scenario(
            "digits",
            (1, 10, 50, 100),
            ("batching", "no-batching", "workers-2", "seed004-2", "seed004-async-2"),
        ),
        Scenario(
            "latency",
            (1, 10, 50, 100),
            ("batching", "no-batching", "workers-1", "workers-2", "workers-4"),
        ),
    ),
    warmup_s=3.0,
    duration_s=10.0,
)
QUICK = Plan(
    scenarios=(
        Scenario("iris", (1, 10), ("batching", "no-batching", "workers-1")),
        Scenario("latency", (10,), ("batching", "no-batching", "workers-1")),
    ),
    warmup_s=1.0,
    duration_s=4.0,
)


@dataclass
class Cell:
    """One cell's numbers."""

    deployment: str
    model: str
    users: int
    requests: int = 0
    failures: int = 0
    rps: float = 0.0
    ok_rps: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    cores: dict[str, float] = field(default_factory=dict)
    machine: float = 0.0
    model_busy: float | None = None
    rows_per_call: float | None = None
    limit: str = ""
    errors: dict[str, int] = field(default_factory=dict)
    skipped: str | None = None
    """Why the cell did not run (its deployment could not start here)."""

    def as_dict(self) -> dict[str, Any]:
        """Plain data for results.json."""
        return asdict(self)


Report = Callable[[Cell], None]


def run(
    plan: Plan,
    place: Place | None,
    *,
    url: str | None = None,
    on_cell: Report,
    on_start: Callable[[str], None],
) -> list[Cell]:
    """Run the plan: on ``url`` alone when given, else on each deployment started at ``place``."""
    cells: list[Cell] = []
    for name in plan.deployments() if url is None else ["url"]:
        todo = (
            plan.cells(name)
            if url is None
            else [(s.model, u) for s in plan.scenarios for u in s.users]
        )
        on_start(name)
        try:
            if url is not None:
                _run_on(external(url), todo, plan, cells, on_cell)
                continue
            assert place is not None
            if needs_redis(name) and (why := redis_reachable(place.redis_url)):
                raise DeploymentError(why)
            with started(name, place) as target:
                _run_on(target, todo, plan, cells, on_cell)
        except Exception as exc:  # one deployment's failure is reported; the sweep goes on
            for model, users in todo:
                if not any(
                    c.deployment == name and c.model == model and c.users == users for c in cells
                ):
                    why = str(exc) if isinstance(exc, DeploymentError) else repr(exc)
                    cell = Cell(name, model, users, skipped=why)
                    cells.append(cell)
                    on_cell(cell)
    return cells


def _run_on(
    target: Target, todo: list[tuple[str, int]], plan: Plan, cells: list[Cell], on_cell: Report
) -> None:
    for model, users in todo:
        cell = Cell(target.name, model, users)
        if model not in target.classes:
            cell.skipped = f"{target.name} does not serve {model}"
        elif target.servekit and not _serves(target.url, model):
            cell.skipped = f"the server does not serve {model} (its extra is not installed?)"
        else:
            _measure(target, cell, plan)
        cells.append(cell)
        on_cell(cell)


def _serves(url: str, model: str) -> bool:
    try:
        return httpx.get(f"{url}/models/{model}", timeout=10).status_code == 200
    except httpx.HTTPError:
        return False


def _measure(target: Target, cell: Cell, plan: Plan) -> None:
    command = [
        sys.executable, "-m", "servekit.loadtest.drive", "--host", target.url,
        "--users", str(cell.users), "--classes", target.classes[cell.model],
        "--warmup-s", str(plan.warmup_s), "--duration-s", str(plan.duration_s),
    ]  # fmt: skip
    env = {**os.environ, **target.env}
    processes = {
        "api": len(target.pids.get("api", [])) or 1,
        "workers": len(target.pids.get("workers", [])),
    }
    slots = processes["workers"] or processes["api"]
    with tempfile.TemporaryFile("w+") as err:
        locust = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
        assert locust.stdout is not None

        def now() -> usage.Reading:
            return usage.read(
                url=target.url, model=cell.model, servekit=target.servekit,
                pids=target.pids, locust=locust.pid, redis_url=target.redis_url,
            )  # fmt: skip

        lines = iter(locust.stdout)
        before = after = None
        for line in lines:
            if line.strip() == drive.MEASURING:
                before, began = now(), time.monotonic()
            elif line.strip() == drive.MEASURED:
                after, took = now(), time.monotonic() - began
                break
        out = "".join(lines)
        locust.wait(60)
        err.seek(0)
        if locust.returncode != 0 or before is None or after is None or not out.strip():
            cell.skipped = f"Locust failed ({locust.returncode}): {err.read().strip()[-500:]}"
            return
    result = json.loads(out.strip().splitlines()[-1])
    numbers = result["total"]
    cell.requests, cell.failures = numbers["requests"], numbers["failures"]
    cell.rps, cell.ok_rps = numbers["rps"], numbers["ok_rps"]
    cell.p50_ms, cell.p95_ms, cell.p99_ms = numbers["p50_ms"], numbers["p95_ms"], numbers["p99_ms"]
    cell.errors = result["errors"]
    used = usage.between(before, after, took, processes=processes, slots=slots)
    cell.cores, cell.machine, cell.model_busy = used.cores, used.machine, used.model_busy
    cell.rows_per_call, cell.limit = used.rows_per_call, used.limit
