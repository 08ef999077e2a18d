"""One cell of a sweep: Locust, as a library, in a process of its own; JSON on stdout.

``python -m servekit.loadtest.drive --host URL --users N --classes module:Class,... --warmup-s W
--duration-s D``: spawns the users at once, lets them run ``W`` seconds, clears the numbers, and
measures ``D`` seconds, saying on stdout when the window begins and ends (so that the sweep reads
the servers' counters around the same window). Its own process because Locust patches the standard library with gevent
on import; the sweep only reads what it prints.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
import time
from typing import Any

MEASURING = "measuring"
"""Printed when the warm-up is over and the measured window begins; MEASURED when it ends."""
MEASURED = "measured"


def load_class(spec: str) -> type[Any]:
    """``module:Class``, or a class name of servekit's own locustfile."""
    module, _, name = spec.rpartition(":")
    return getattr(importlib.import_module(module or "servekit.loadtest.locustfile"), name)  # type: ignore[no-any-return]


def measure(
    host: str, users: int, classes: list[str], warmup_s: float, duration_s: float
) -> dict[str, Any]:
    """Run the users; their requests, failures, requests/s and percentiles in ms, and errors."""
    import gevent
    from locust.env import Environment

    env = Environment(user_classes=[load_class(c) for c in classes], host=host)
    runner = env.create_local_runner()
    runner.start(users, spawn_rate=users)
    gevent.sleep(warmup_s)
    env.stats.reset_all()
    began = time.monotonic()
    print(MEASURING, flush=True)
    gevent.sleep(duration_s)
    elapsed = time.monotonic() - began
    print(MEASURED, flush=True)
    total = _entry(env.stats.total, elapsed)
    errors = {f"{e.method} {e.name}: {e.error}": e.occurrences for e in env.stats.errors.values()}
    runner.quit()
    return {"total": total, "errors": errors}


def _entry(entry: Any, elapsed: float) -> dict[str, float]:
    done = entry.num_requests
    return {
        "requests": done,
        "failures": entry.num_failures,
        "rps": done / elapsed if elapsed else 0.0,
        "ok_rps": (done - entry.num_failures) / elapsed if elapsed else 0.0,
        "p50_ms": entry.get_response_time_percentile(0.5) if done else 0.0,
        "p95_ms": entry.get_response_time_percentile(0.95) if done else 0.0,
        "p99_ms": entry.get_response_time_percentile(0.99) if done else 0.0,
    }


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, run the cell, print its numbers as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", required=True)
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--classes", required=True, help="module:Class, comma-separated")
    parser.add_argument("--warmup-s", type=float, default=3.0)
    parser.add_argument("--duration-s", type=float, default=10.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    result = measure(args.host, args.users, args.classes.split(","), args.warmup_s, args.duration_s)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
