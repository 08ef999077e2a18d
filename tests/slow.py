"""A deliberately slow model (a plain Python class) for tests of queues, deadlines and shutdown."""

from __future__ import annotations

from pathlib import Path

import yaml

MODEL_CODE = '''
import threading
import time


class Slow:
    """Returns x * 2 after a fixed delay per call, one call at a time; logs each call's rows as a line."""

    def load(self, folder):
        self.seen = folder / "seen.txt"
        self.delay = float((folder / "delay.txt").read_text())
        self.lock = threading.Lock()

    def predict(self, rows):
        with self.lock:
            with open(self.seen, "a") as log:
                log.write(" ".join(str(r["x"]) for r in rows) + "\\n")
            time.sleep(self.delay)
        return [r["x"] * 2 for r in rows]
'''


def slow_repo(root: Path, delay: float, **batching: object) -> Path:
    """A model repository holding one model, ``slow``, that spends ``delay`` seconds per call."""
    folder = root / "slow"
    folder.mkdir(parents=True)
    (folder / "slow.py").write_text(MODEL_CODE)
    (folder / "delay.txt").write_text(str(delay))
    manifest = {
        "name": "slow",
        "runtime": "python",
        "entrypoint": "slow:Slow",
        "task": "regression",
        "inputs": [{"name": "x", "type": "float", "example": 1.0}],
        "batching": {"max_batch_size": 64, **batching},
    }
    (folder / "servekit.yaml").write_text(yaml.safe_dump(manifest))
    return root


def calls(root: Path) -> list[list[float]]:
    """The x of each row of each call of the slow model, call by call."""
    log = root / "slow" / "seen.txt"
    lines = log.read_text().splitlines() if log.exists() else []
    return [[float(x) for x in line.split()] for line in lines]


def seen(root: Path) -> list[float]:
    """Every x the slow model has been called with, in order."""
    return [x for call in calls(root) for x in call]
