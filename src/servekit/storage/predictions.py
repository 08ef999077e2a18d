"""The prediction log: rows written in batches by a background task, never on the request path."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sqlite3
from collections import deque
from collections.abc import Sequence
from typing import Any

import asyncpg
from pydantic_core import to_json
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from servekit.monitoring import metrics
from servekit.storage.bulk import LogRow, row_writer
from servekit.storage.db import Database
from servekit.storage.tables import PredictionRecord

log = logging.getLogger("servekit.storage")

LoggedAnswer = tuple[str, bytes, bytes]
"""One row's answer as the response has it: the prediction's id; its output and warnings (JSON)."""


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
        self._writer = row_writer(database)
        self._pending: deque[LogRow] = deque(maxlen=max_pending)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def record(
        self,
        *,
        model: str,
        version: str,
        inputs: Sequence[Any],
        answers: Sequence[LoggedAnswer],
        latency_ms: float,
        user_id: int | None,
    ) -> None:
        """Queue one request's rows and their answers; cheap and synchronous.

        ``answers`` are what the response says of each row, as JSON texts: id, output, warnings.
        """
        pairs: Any = zip(inputs, answers, strict=True)
        count = len(answers)
        if self.sample_rate < 1.0:
            pairs = [pair for pair in pairs if random.random() < self.sample_rate]
            count = len(pairs)
        pending = self._pending
        dropped = count - ((pending.maxlen or 0) - len(pending))
        if dropped > 0:  # the deque lets go of its oldest rows as the new ones come
            metrics.PREDICTION_LOG.labels("dropped").inc(dropped)
        now = self._writer.stamp()
        # JSON text now: the queue holds strings, not live dicts (see LogRow).
        # NOTE: a loop of appends, not a list built and then added: this runs once a request.
        for row, (prediction_id, output, warnings) in pairs:
            pending.append(
                (
                    prediction_id,
                    model,
                    version,
                    to_json(row).decode(),
                    output.decode(),
                    warnings.decode(),
                    latency_ms,
                    user_id,
                    now,
                )
            )
        if len(pending) >= self.batch_size:
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
        await self._writer.close()

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
                # NOTE: shielded: a write the driver has begun goes on whatever happens to its
                # caller (shutdown, a client gone), and counts its rows once, written or failed.
                if not await asyncio.shield(self._write(batch)):
                    # The rest wait for the next round, so that a database that is down is not hammered.
                    return

    async def _write(self, batch: list[LogRow]) -> bool:
        """Write the batch; False when the database cannot be written now (down, missing table).

        NOTE: a row the database refuses (a constraint, a value out of its range) fails the whole
        transaction: the batch is then halved until each refused row is alone, so that it fails
        alone. k such rows in n cost about 2k log2(n) writes, and only when they happen.
        """
        try:
            await self._writer.write(batch)
        except Exception as exc:
            if not refused_rows(exc):
                # Predictions go on without their log: the failure is counted and said, not hidden.
                metrics.PREDICTION_LOG.labels("failed").inc(len(batch))
                log.error("could not write %d predictions to the log: %s", len(batch), exc)
                return False
            if len(batch) == 1:
                metrics.PREDICTION_LOG.labels("failed").inc()
                log.error("the log refused prediction %s: %s", batch[0][0], exc)
                return True
            middle = len(batch) // 2
            return await self._write(batch[:middle]) and await self._write(batch[middle:])
        metrics.PREDICTION_LOG.labels("written").inc(len(batch))
        return True


def refused_rows(exc: BaseException) -> bool:
    """True when the database refused some row's values, not the write as a whole."""
    # Both drivers' errors, as they reach the raw connection: constraints (a foreign key, a
    # duplicate id) and data errors (out of range, a NUL in text); Python's own for values a
    # driver cannot convert (an integer too large for SQLite).
    return isinstance(
        exc,
        sqlite3.IntegrityError
        | sqlite3.DataError
        | OverflowError
        | asyncpg.IntegrityConstraintViolationError
        | asyncpg.DataError,
    )


async def get_prediction(session: AsyncSession, *, prediction_id: str) -> PredictionRecord | None:
    """One logged prediction, if any."""
    return (
        await session.execute(select(PredictionRecord).where(PredictionRecord.id == prediction_id))
    ).scalar_one_or_none()


async def recent_predictions(
    session: AsyncSession, *, user_id: int | None, limit: int
) -> Sequence[PredictionRecord]:
    """The newest ``limit`` logged predictions: one user's, or everyone's when ``user_id`` is None.

    Newest by id: ids begin with their time in milliseconds.
    """
    query = select(PredictionRecord)
    if user_id is not None:
        query = query.where(PredictionRecord.user_id == user_id)
    return (
        (await session.execute(query.order_by(PredictionRecord.id.desc()).limit(limit)))
        .scalars()
        .all()
    )
