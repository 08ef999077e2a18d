"""How rows reach the model: the one interface every executor implements, and the thread-pool call."""

from __future__ import annotations

import asyncio
import math
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from servekit.exceptions import DeadlineExceeded, Overloaded
from servekit.monitoring import metrics, model_warnings
from servekit.runtimes.base import Row, RowOutput, Runtime


class Executor(Protocol):
    """Runs rows through one model and returns one output per row, in order."""

    async def start(self) -> None:
        """Get ready to take rows (called on the serving event loop)."""
        ...

    async def stop(self, grace: float = 10.0) -> None:
        """Refuse new rows and finish the accepted ones within ``grace`` seconds."""
        ...

    async def observe(self) -> None:
        """Refresh gauges that need I/O to read (a queue's depth in Redis); before a scrape."""
        ...

    def admit(self, rows: int, *, in_progress: int | None = None) -> None:
        """Raise Overloaded if a request of ``rows`` rows would be refused now (no waiting, no I/O).

        The check before anything of a request is parsed, so that a refusal costs next to nothing;
        ``submit`` checks again. With ``in_progress``, the caller's count of requests it let in
        and has not answered (queued, running, or not yet queued), those are counted instead.
        """
        ...

    async def submit(self, rows: list[Row], *, deadline: float = math.inf) -> list[RowOutput]:
        """Predict the rows by ``deadline`` (monotonic seconds).

        Raises PredictionError if the model fails, Overloaded when it cannot take more rows now,
        DeadlineExceeded when the deadline passes first.
        """
        ...


class ModelCall:
    """One model call on the shared thread pool, timed: model code never runs on the event loop."""

    def __init__(self, runtime: Runtime, pool: ThreadPoolExecutor) -> None:
        self.runtime = runtime
        self.pool = pool
        m = runtime.manifest
        self._seconds = metrics.INFERENCE_SECONDS.labels(m.name, m.version)
        self._key = m.key
        model_warnings.capture()

    def _timed(self, rows: list[Row]) -> list[RowOutput]:
        start = time.perf_counter()
        model_warnings.set_model(self._key)
        try:
            return self.runtime(rows)
        finally:
            model_warnings.set_model(None)
            self._seconds.observe(time.perf_counter() - start)

    async def __call__(self, rows: list[Row]) -> list[RowOutput]:
        """Run the rows as one batch on a pool thread."""
        return await asyncio.get_running_loop().run_in_executor(self.pool, self._timed, rows)


class DirectExecutor:
    """Batching off: each request is its own model call (split at ``max_batch_size``).

    At most ``max_queue_rows`` rows are admitted at once; beyond, requests are refused at once.
    """

    def __init__(self, call: ModelCall, *, max_queue_rows: int) -> None:
        self.call = call
        self.manifest = call.runtime.manifest
        self.max_batch_size = self.manifest.batching.max_batch_size
        self.max_queue_rows = max_queue_rows
        self._admitted = 0
        self._closed = False
        labels = (self.manifest.name, self.manifest.version)
        self._batch_size = metrics.BATCH_SIZE.labels(*labels)
        self._rejected = {
            r: metrics.REJECTIONS.labels(*labels, r) for r in metrics.REJECTION_REASONS
        }

    async def start(self) -> None:
        """Nothing to start: calls go straight to the pool."""

    async def stop(self, grace: float = 10.0) -> None:
        """Refuse new rows; the server waits for requests in flight."""
        self._closed = True

    async def observe(self) -> None:
        """Nothing to read: its gauges are set as rows pass."""

    def admit(self, rows: int, *, in_progress: int | None = None) -> None:
        """Raise Overloaded if the rows would pass the limit of rows in flight."""
        if self._closed:
            self._rejected["shutdown"].inc()
            raise Overloaded(f"{self.manifest.key} is shutting down")
        held = self._admitted if in_progress is None else in_progress
        if held + rows > self.max_queue_rows:
            self._rejected["queue_full"].inc()
            raise Overloaded(
                f"{self.manifest.key} has {held} rows in flight, and the limit is {self.max_queue_rows}"
            )

    async def submit(self, rows: list[Row], *, deadline: float = math.inf) -> list[RowOutput]:
        """Run the request's rows, chunk by chunk, unless too many rows are in flight."""
        self.admit(len(rows))
        self._admitted += len(rows)
        try:
            async with asyncio.timeout_at(None if deadline == math.inf else deadline):
                outputs: list[RowOutput] = []
                for i in range(0, len(rows), self.max_batch_size):
                    chunk = rows[i : i + self.max_batch_size]
                    self._batch_size.observe(len(chunk))
                    outputs.extend(await self.call(chunk))
                return outputs
        except TimeoutError:
            self._rejected["deadline"].inc()
            raise DeadlineExceeded(
                f"no answer from {self.manifest.key} within the request's deadline"
            ) from None
        finally:
            self._admitted -= len(rows)
