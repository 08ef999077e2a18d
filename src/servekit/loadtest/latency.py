"""The latency-bound model of the sweep: a call costs a fixed time, whatever its batch, and no CPU.

It stands for a model on an accelerator, or behind a remote call: what bounds it is how many
calls run at once, not the cores. That is what lets workers scale on a two-core machine, where a
CPU-bound model cannot (two cores are two cores, however many processes share them).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

NAME = "latency"
CALL_S = 0.1
"""What one model call costs, sleeping (no CPU)."""
MAX_BATCH = 16
"""Rows in one call: one process then does at most MAX_BATCH / CALL_S = 160 rows/s."""
MAX_QUEUE_WAIT_MS = 1000.0
"""How long a row may wait for its call (its manifest's ``batching.max_queue_wait_ms``)."""
FEATURES = [f"x{i}" for i in range(4)]


class FixedLatency:
    """Sleeps ``CALL_S`` per call, one call at a time in a process (as one device would)."""

    classes_ = np.array(["no", "yes"])
    _lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        pass

    def predict_proba(self, x: Any) -> Any:
        """Half and half for every row, after the fixed delay."""
        with self._lock:
            time.sleep(CALL_S)
        return np.full((len(x), 2), 0.5)


def build(out: Path) -> Path:
    """Package the model under ``out/latency`` (an existing folder is replaced)."""
    from servekit.repository.package import package_model

    data = np.random.default_rng(0).normal(size=(1000, len(FEATURES)))
    package_model(
        FixedLatency(),
        data,
        out / NAME,
        name=NAME,
        feature_names=FEATURES,
        description=f"Load-test model: {CALL_S * 1000:.0f} ms a call, up to {MAX_BATCH} rows, no CPU.",
        # A row may wait a second for its call, not the default 10 ms: at 100 ms a call, a queue
        # bounded by 10 ms of work would refuse most of a hundred users, and the sweep would
        # measure shedding rather than the model's throughput.
        extra={"batching": {"max_batch_size": MAX_BATCH, "max_queue_wait_ms": MAX_QUEUE_WAIT_MS}},
        overwrite=True,
    )
    return out / NAME
