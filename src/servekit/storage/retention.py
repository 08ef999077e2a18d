"""Retention of the prediction log: rows past an age or beyond a count, deleted in the background."""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy import delete, select

from servekit.monitoring import metrics
from servekit.storage.db import Database
from servekit.storage.periodic import Periodic
from servekit.storage.tables import PredictionRecord

log = logging.getLogger("servekit.storage")
CHUNK = 5_000
"""Rows deleted in one transaction: short, so that the log's writer never waits long for its turn."""


def id_at(epoch_s: float) -> str:
    """The smallest prediction id made at ``epoch_s`` or later.

    NOTE: ids are UUIDv7, in time order (servekit.ids), so the primary key is also the log's time
    index: an age is a range of the key, with no index on created_at to slow every insert.
    """
    return f"{int(epoch_s * 1000) << 80:032x}"


class LogRetention:
    """Deletes logged predictions older than ``max_age_s`` and beyond the newest ``max_rows``.

    Feedback on a deleted prediction goes with it.
    """

    def __init__(
        self,
        database: Database,
        *,
        max_age_s: float | None,
        max_rows: int | None,
        interval_s: float,
    ) -> None:
        self.database = database
        self.max_age_s = max_age_s
        self.max_rows = max_rows
        self.interval_s = interval_s
        self._periodic = Periodic(self.prune, interval_s, name="prediction log retention", log=log)

    async def start(self) -> None:
        """Prune now and then every ``interval_s``."""
        if self.max_age_s is not None or self.max_rows is not None:
            self._periodic.start()

    async def stop(self) -> None:
        """Stop pruning (a chunk being deleted is finished by the database or rolled back)."""
        await self._periodic.stop()

    async def prune(self) -> int:
        """Delete what retention no longer keeps, chunk by chunk; the number of rows deleted."""
        cut = await self._cut()
        if cut is None:
            return 0
        table = PredictionRecord
        total = 0
        while True:
            chunk = select(table.id).where(table.id < cut).order_by(table.id).limit(CHUNK)
            async with self.database.session() as session:
                result = await session.execute(delete(table).where(table.id.in_(chunk)))
                await session.commit()
            deleted = int(getattr(result, "rowcount", 0) or 0)
            total += deleted
            metrics.PREDICTION_LOG_PRUNED.inc(deleted)
            if deleted < CHUNK:
                break
            await asyncio.sleep(0)  # the writer's turn
        if total:
            log.info("retention deleted %d logged predictions", total)
        return total

    async def _cut(self) -> str | None:
        """Ids below this one go: the later of the age's bound and the count's."""
        cuts = []
        if self.max_age_s is not None:
            cuts.append(id_at(time.time() - self.max_age_s))
        if self.max_rows is not None:
            # The newest max_rows rows stay: the id just past them, read along the key's index.
            newest_gone = (
                select(PredictionRecord.id)
                .order_by(PredictionRecord.id.desc())
                .offset(self.max_rows)
                .limit(1)
            )
            async with self.database.session() as session:
                boundary = (await session.execute(newest_gone)).scalar_one_or_none()
            if boundary is not None:
                cuts.append(boundary + "0")  # just above it: "<" then takes it too
        return max(cuts) if cuts else None
