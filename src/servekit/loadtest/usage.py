"""What each part used during a cell, from the processes' CPU and the server's own metrics.

Read before and after each cell: the CPU of the API's and the workers' processes, of Locust and
of Redis (``INFO cpu``), the machine's, and from ``/monitor/snapshot`` the time the model spent
in its calls and the rows per call. From these, the part nearest its limit is named.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import psutil
import redis

SATURATED = 0.85
"""A share of its capacity past which a part is taken to be what limited the cell."""
OVERLAP = 1.2
"""Model calls in progress on average past which they overlapped (no batching, a thread each)."""
PARTS = {
    "api": "the API's CPU",
    "workers": "the workers' CPU",
    "locust": "Locust's CPU (the load generator)",
    "redis": "Redis's CPU",
}


@dataclass(frozen=True)
class Reading:
    """Cumulative counters at one moment."""

    cpu_s: dict[str, float]
    """CPU seconds by part: api, workers, locust, redis."""
    machine_busy_s: float
    model_s: float
    """Seconds spent in model calls (all processes, all workers)."""
    rows: float
    calls: float


def _process_cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def _redis_cpu(url: str | None) -> float:
    if url is None:
        return 0.0
    try:
        with redis.Redis.from_url(url) as r:
            info = r.info("cpu")
    except redis.RedisError:
        return 0.0
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def _model(url: str, model: str, servekit: bool) -> tuple[float, float, float]:
    """Model seconds, rows and calls so far, from the snapshot (zeros for another server)."""
    if not servekit:
        return 0.0, 0.0, 0.0
    try:
        snapshot = httpx.get(url + "/monitor/snapshot", timeout=5).json()
    except (httpx.HTTPError, ValueError):
        return 0.0, 0.0, 0.0
    for entry in snapshot.get("models", []):
        if entry["name"] == model:
            batch = entry["batch"]
            return float(entry["inference"]["sum"]), float(batch["sum"]), float(batch["count"])
    return 0.0, 0.0, 0.0


def read(
    *,
    url: str,
    model: str,
    servekit: bool,
    pids: dict[str, list[int]],
    locust: int | None,
    redis_url: str | None,
) -> Reading:
    """The counters now."""
    cpu = {role: _process_cpu(ids) for role, ids in pids.items()}
    cpu["locust"] = _process_cpu([locust]) if locust else 0.0
    cpu["redis"] = _redis_cpu(redis_url)
    times = psutil.cpu_times()
    busy = sum(times) - times.idle - getattr(times, "iowait", 0.0)
    model_s, rows, calls = _model(url, model, servekit)
    return Reading(cpu, busy, model_s, rows, calls)


@dataclass(frozen=True)
class Usage:
    """Shares of capacity over a cell (1.0 is one core, or the model busy all the time)."""

    cores: dict[str, float]
    """Cores used by part: api, workers, locust, redis."""
    machine: float
    """The machine's busy share, over all its cores."""
    model_busy: float | None
    """The model's calls' share of the time, per process that runs them (None: not known)."""
    rows_per_call: float | None
    limit: str
    """The part that limited the cell, in words, with its number."""


def between(
    before: Reading, after: Reading, seconds: float, *, processes: dict[str, int], slots: int
) -> Usage:
    """What was used from ``before`` to ``after``; ``processes`` counts the api's and workers'."""
    cores = {k: max(after.cpu_s[k] - before.cpu_s.get(k, 0.0), 0.0) / seconds for k in after.cpu_s}
    machine = (after.machine_busy_s - before.machine_busy_s) / seconds / (psutil.cpu_count() or 1)
    calls = after.calls - before.calls
    model_busy = (after.model_s - before.model_s) / seconds / slots if calls and slots else None
    rows = (after.rows - before.rows) / calls if calls else None
    return Usage(cores, machine, model_busy, rows, limiting(cores, machine, model_busy, processes))


def limiting(
    cores: dict[str, float], machine: float, model_busy: float | None, processes: dict[str, int]
) -> str:
    """Name the part nearest its limit: the model, one process's core, the machine, or none.

    ``model_busy`` is the model calls in progress on average per process that runs them: about 1
    when calls follow one another without a gap; over 1 when they overlap (one thread each,
    without batching), which says they wait for each other or for the CPU.
    """
    if model_busy is not None and SATURATED <= model_busy <= OVERLAP:
        return f"the model (busy {model_busy:.0%} of the time)"
    # A Python process does one core's work at most (the GIL): a part's share is per process.
    shares = {
        part: used / max(processes.get(part, 1), 1) for part, used in cores.items() if part in PARTS
    }
    part, share = max(shares.items(), key=lambda item: item[1], default=("api", 0.0))
    if share >= SATURATED:
        return f"{PARTS[part]} ({share:.0%} of a core per process)"
    if model_busy is not None and model_busy > OVERLAP:
        return f"the model ({model_busy:.1f} calls in progress at once on average, waiting for each other)"
    if machine >= SATURATED:
        count = psutil.cpu_count() or 1
        others = max(machine * count - sum(cores.values()), 0.0)
        spread = {**cores, "other processes": others}
        said = ", ".join(
            f"{p} {c:.0%}" for p, c in sorted(spread.items(), key=lambda i: -i[1]) if c >= 0.05
        )
        return f"the machine's {count} cores ({machine:.0%} busy, in cores: {said})"
    return "the users (each waits for its answer; no part was saturated)"
