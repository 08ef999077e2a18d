"""A deliberately slow model (a plain Python class) for tests of queues, deadlines, shutdown and workers.

It answers x * 2, logs each call's process id and rows, and raises on a negative x (a poison row)."""

from __future__ import annotations

from pathlib import Path

import yaml

MODEL_CODE = '''
import os
import threading
import time


class Slow:
    """Returns x * 2 after a fixed delay per call, one call at a time; logs each call as a line."""

    def load(self, folder):
        self.seen = folder / "seen.txt"
        self.delay = float((folder / "delay.txt").read_text())
        self.lock = threading.Lock()

    def predict(self, rows):
        with self.lock:
            with open(self.seen, "a") as log:
                log.write(f"{os.getpid()} " + " ".join(str(r["x"]) for r in rows) + "\\n")
            if any(r["x"] < 0 for r in rows):
                raise ValueError("poison: a negative x")
            time.sleep(self.delay)
        return [r["x"] * 2 for r in rows]
'''


def slow_repo(root: Path, delay: float, name: str = "slow", **batching: object) -> Path:
    """A model repository holding one model, ``name``, that spends ``delay`` seconds per call."""
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "slow.py").write_text(MODEL_CODE)
    (folder / "delay.txt").write_text(str(delay))
    manifest = {
        "name": name,
        "runtime": "python",
        "entrypoint": "slow:Slow",
        "task": "regression",
        "inputs": [{"name": "x", "type": "float", "example": 1.0}],
        "batching": {"max_batch_size": 64, **batching},
    }
    (folder / "servekit.yaml").write_text(yaml.safe_dump(manifest))
    return root


def pid_calls(root: Path, name: str = "slow") -> list[tuple[int, list[float]]]:
    """Each call of the model: the process that ran it and the x of its rows."""
    log = root / name / "seen.txt"
    lines = log.read_text().splitlines() if log.exists() else []
    return [
        (int(pid), [float(x) for x in rest.split()])
        for pid, _, rest in (line.partition(" ") for line in lines)
    ]


def calls(root: Path, name: str = "slow") -> list[list[float]]:
    """The x of each row of each call of the model, call by call."""
    return [xs for _, xs in pid_calls(root, name)]


def seen(root: Path, name: str = "slow") -> list[float]:
    """Every x the model has been called with, in order."""
    return [x for call in calls(root, name) for x in call]
