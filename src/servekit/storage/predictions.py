"""The prediction log: rows written in batches by a background task, never on the request path."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from servekit.monitoring import metrics
from servekit.storage.db import Database
from servekit.storage.tables import PredictionRecord

log = logging.getLogger("servekit.storage")


class PredictionLog:
    """Collects predicted rows and writes them in batches; a database failure never fails a prediction.

    At most ``max_pending`` rows wait in memory: beyond, the oldest are dropped and counted.
    """

    def __init__(
        self,
        database: Database,
        *,
        sample_rate: float,
        batch_size: int,
        flush_interval: float,
        max_pending: int,
    ) -> None:
        self.database = database
        self.sample_rate = sample_rate
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self._pending: deque[dict[str, Any]] = deque(maxlen=max_pending)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def record(self, rows: list[dict[str, Any]]) -> None:
        """Queue predicted rows (``id``, ``model``, ``version``, ``inputs``, ``output``, ...); cheap and synchronous.

        The dicts are kept as they are (stamped with ``created_at``), not copied.
        """
        if self.sample_rate < 1.0:
            rows = [r for r in rows if random.random() < self.sample_rate]
        dropped = max(0, len(self._pending) + len(rows) - (self._pending.maxlen or 0))
        if dropped:
            metrics.PREDICTION_LOG.labels("dropped").inc(dropped)
        now = datetime.now(UTC)
        for row in rows:
            row["created_at"] = now
        self._pending.extend(rows)
        if len(self._pending) >= self.batch_size:
            self._wake.set()

    async def start(self) -> None:
        """Start the background writer."""
        self._task = asyncio.create_task(self._run(), name="prediction log")

    async def stop(self) -> None:
        """Write what is pending, then stop; rows that still cannot be written are counted and said."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()
        if self._pending:
            metrics.PREDICTION_LOG.labels("failed").inc(len(self._pending))
            log.error(
                "stopping with %d predictions that could not be written to the log",
                len(self._pending),
            )
            self._pending.clear()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_interval)
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        """Write the rows pending now (feedback calls this before looking a prediction up).

        Rows recorded while it writes wait for the next round.
        """
        async with self._lock:
            # NOTE: bounded by what is pending now. Writing until the queue is empty never ends
            # under steady load: each write finds the few rows recorded during the last one, so
            # the writer ran without pause in batches of a few rows, each paying a whole
            # transaction, and a feedback request waiting on flush() could wait forever.
            left = len(self._pending)
            while left > 0 and self._pending:
                batch = [
                    self._pending.popleft()
                    for _ in range(min(self.batch_size, left, len(self._pending)))
                ]
                left -= len(batch)
                try:
                    async with self.database.session() as session:
                        # Core, not ORM: one executemany, without per-row ORM bookkeeping.
                        await session.execute(insert(PredictionRecord.__table__), batch)  # type: ignore[arg-type]
                        await session.commit()
                except asyncio.CancelledError:
                    # NOTE: stopped mid-write: the batch goes back, for the final flush to write or count.
                    self._pending.extendleft(reversed(batch))
                    raise
                except Exception as exc:
                    # Predictions go on without their log: the failure is counted and said, not hidden.
                    # The rest wait for the next round, so that a database that is down is not hammered.
                    metrics.PREDICTION_LOG.labels("failed").inc(len(batch))
                    log.error("could not write %d predictions to the log: %s", len(batch), exc)
                    return
                metrics.PREDICTION_LOG.labels("written").inc(len(batch))


async def get_prediction(session: AsyncSession, *, prediction_id: str) -> PredictionRecord | None:
    """One logged prediction, if any."""
    return (
        await session.execute(select(PredictionRecord).where(PredictionRecord.id == prediction_id))
    ).scalar_one_or_none()
