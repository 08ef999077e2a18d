"""The machine a report was measured on: CPU, cores, memory, OS, Python and package versions."""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path

import psutil
import redis

PACKAGES = (
    "servekit",
    "fastapi",
    "uvicorn",
    "starlette",
    "scikit-learn",
    "torch",
    "locust",
    "redis",
)


def cpu_model() -> str:
    """The CPU's name as the kernel reports it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe(redis_url: str | None) -> dict[str, str]:
    """What the report's "Machine" section shows."""
    memory = psutil.virtual_memory().total / 2**30
    facts = {
        "CPU": cpu_model(),
        "Cores": f"{psutil.cpu_count(logical=True)} logical ({psutil.cpu_count(logical=False)} physical)",
        "Memory": f"{memory:.1f} GiB",
        "OS": platform.platform(),
        "Python": platform.python_version(),
    }
    for name in PACKAGES:
        try:
            facts[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            facts[name] = "not installed"
    if redis_url:
        try:
            with redis.Redis.from_url(redis_url, socket_connect_timeout=2) as r:
                facts["Redis server"] = str(r.info("server")["redis_version"])
        except redis.RedisError:
            facts["Redis server"] = "not reachable"
    return facts
