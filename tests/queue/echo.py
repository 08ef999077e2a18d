"""A model for the distributed-mode tests: answers x * 2, says which process ran it, fails on x < 0."""

from __future__ import annotations

from pathlib import Path

import yaml

MODEL_CODE = '''
import os
import threading
import time


class Echo:
    """x * 2 after a fixed delay per call; raises on a negative x (a poison row)."""

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


def echo_repo(root: Path, delay: float = 0.0, max_batch_size: int = 16) -> Path:
    """A model repository holding one model, ``echo``, that spends ``delay`` seconds per call."""
    folder = root / "echo"
    folder.mkdir(parents=True)
    (folder / "echo.py").write_text(MODEL_CODE)
    (folder / "delay.txt").write_text(str(delay))
    manifest = {
        "name": "echo",
        "runtime": "python",
        "entrypoint": "echo:Echo",
        "task": "regression",
        "inputs": [{"name": "x", "type": "float", "example": 1.0}],
        "batching": {"max_batch_size": max_batch_size},
    }
    (folder / "servekit.yaml").write_text(yaml.safe_dump(manifest))
    return root


def calls(root: Path) -> list[tuple[int, list[float]]]:
    """Each call of the echo model: the pid that ran it and the x of its rows."""
    log = root / "echo" / "seen.txt"
    lines = log.read_text().splitlines() if log.exists() else []
    return [
        (int(pid), [float(x) for x in rest.split()])
        for pid, _, rest in (line.partition(" ") for line in lines)
    ]
