"""How a batch of rows reaches the model: the one interface every executor implements."""

from __future__ import annotations

import time
from typing import Protocol

import anyio
import anyio.to_thread

from servekit.monitoring.metrics import INFERENCE_SECONDS
from servekit.runtimes.base import Row, RowOutput, Runtime


class Executor(Protocol):
    """Runs rows through a model and returns one output per row, in order."""

    async def submit(self, rows: list[Row]) -> list[RowOutput]:
        """Predict the rows; raises PredictionError if the model fails."""
        ...


class ThreadExecutor:
    """Runs each request's rows on a worker thread, in model calls of at most ``max_batch_size`` rows.

    Model code never runs on the event loop; ``limiter`` bounds how many model calls run at once.
    """

    def __init__(self, runtime: Runtime, *, limiter: anyio.CapacityLimiter) -> None:
        self.runtime = runtime
        self.limiter = limiter
        self.max_batch_size = runtime.manifest.batching.max_batch_size
        m = runtime.manifest
        self._inference_seconds = INFERENCE_SECONDS.labels(m.name, m.version)

    def _run(self, rows: list[Row]) -> list[RowOutput]:
        start = time.perf_counter()
        try:
            return self.runtime(rows)
        finally:
            self._inference_seconds.observe(time.perf_counter() - start)

    async def submit(self, rows: list[Row]) -> list[RowOutput]:
        """Predict the rows chunk by chunk off the event loop."""
        outputs: list[RowOutput] = []
        for i in range(0, len(rows), self.max_batch_size):
            chunk = rows[i : i + self.max_batch_size]
            outputs.extend(await anyio.to_thread.run_sync(self._run, chunk, limiter=self.limiter))
        return outputs
