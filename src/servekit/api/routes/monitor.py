"""``GET /monitor/snapshot``: the server's own metrics as JSON, for the monitor page to poll."""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy.exc import SQLAlchemyError

from servekit.api.routes.feedback import refresh_accuracy
from servekit.monitoring.exposition import Exposition
from servekit.monitoring.snapshot import Snapshot, merged, read_snapshot
from servekit.queue.client import JobQueue
from servekit.queue.connection import UNAVAILABLE
from servekit.queue.monitor import worker_parts
from servekit.serving.registry import ServedModels
from servekit.storage.db import Database

log = logging.getLogger("servekit.monitoring")

router = APIRouter(tags=["monitoring"])


class SnapshotReader:
    """Reads a snapshot from what /metrics reads, plus the database's feedback and the workers' parts."""

    def __init__(
        self,
        exposition: Exposition,
        served: ServedModels,
        database: Database,
        queue: JobQueue | None,
    ) -> None:
        self.exposition = exposition
        self.served = served
        self.database = database
        self.queue = queue
        self._database_failing = False

    async def read(self) -> Snapshot:
        """The snapshot now; what cannot be reached (database, Redis) is left as last read."""
        await self.served.observe()
        await self._refresh_feedback()
        snapshot = read_snapshot(
            self.exposition.live_registry(),
            [(s.manifest.name, s.manifest.version) for s in self.served.all()],
            now=time.time(),
            distributed=self.queue is not None,
        )
        if self.queue is None:
            return snapshot
        parts = []
        with contextlib.suppress(*UNAVAILABLE):  # /readyz and servekit_redis_up say so
            parts = await worker_parts(self.queue.redis, self.queue.keys)
        return merged(snapshot, parts)

    async def _refresh_feedback(self) -> None:
        # NOTE: the accuracy gauge is set by the process that took the feedback; another API
        # process (distributed mode, several servers) or retention deleting old predictions
        # leaves this one's stale, so the monitor reads it from the database each time.
        try:
            async with self.database.session() as session:
                await refresh_accuracy(session)
        except (SQLAlchemyError, OSError) as exc:
            if not self._database_failing:
                log.warning("monitor: feedback accuracy not read from the database (%r)", exc)
            self._database_failing = True
        else:
            self._database_failing = False


def _reader(request: Request) -> SnapshotReader:
    reader: SnapshotReader = request.app.state.snapshot_reader
    return reader


@router.get("/monitor/snapshot", response_model=Snapshot)
async def monitor_snapshot(reader: Annotated[SnapshotReader, Depends(_reader)]) -> Snapshot:
    """The server's metrics now, summed over its processes and (distributed) its live workers.

    Counts and histograms are cumulative: difference two snapshots for rates and percentiles.
    A count that goes down is a reset (a worker gone). Open, like `/metrics`.
    """
    return await reader.read()
