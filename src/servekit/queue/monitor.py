"""Distributed mode's share of the monitor's snapshot: each worker's part, through Redis.

Batch sizes, inference time, CPU and memory of distributed mode are the workers' own: each
worker publishes them under a key of its own that expires after a few intervals, and the API
adds up the parts of the workers it finds. A worker that stops drops out when it leaves (or,
killed, when its key expires).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any

from prometheus_client import CollectorRegistry
from pydantic import ValidationError
from redis.asyncio import Redis

from servekit.monitoring.snapshot import ModelKey, WorkerPart, read_worker_part
from servekit.queue.jobs import Keys

log = logging.getLogger("servekit.worker")

TTL_INTERVALS = 3
"""A part outlives this many publishing intervals: one late publication is not a worker gone."""


class PartPublisher:
    """Publishes one worker's part every ``interval_s``, in the background, until told to stop."""

    def __init__(
        self,
        redis: Redis,
        key: str,
        registry: CollectorRegistry,
        models: Sequence[ModelKey],
        *,
        interval_s: float,
    ) -> None:
        self.redis = redis
        self.key = key
        self.registry = registry
        self.models = list(models)
        self.interval_s = interval_s
        self._failing = False

    async def publish(self) -> None:
        """Read the registry and write the part, which expires unless written again."""
        part = read_worker_part(self.registry, self.models, now=time.time())
        ttl_ms = max(1, round(self.interval_s * TTL_INTERVALS * 1000))
        await self.redis.set(self.key, part.model_dump_json(), px=ttl_ms)

    async def run(self, stopping: asyncio.Event) -> None:
        """Publish until ``stopping`` is set; a failure is logged once, until publishing works again."""
        while not stopping.is_set():
            try:
                await self.publish()
            except Exception as exc:  # the monitor must never stop the worker
                if not self._failing:
                    log.warning("cannot publish this worker's metrics to Redis (%r)", exc)
                self._failing = True
            else:
                if self._failing:
                    log.info("publishing this worker's metrics to Redis again")
                self._failing = False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self.interval_s)

    async def withdraw(self) -> None:
        """Delete the part at once (the worker leaves): its counts are no longer the server's."""
        await self.redis.delete(self.key)


async def worker_parts(redis: Redis, keys: Keys) -> list[WorkerPart]:
    """The parts of the live workers: those in the heartbeat set whose part has not expired."""
    names: Any = await redis.zrange(keys.workers(), 0, -1)
    if not names:
        return []
    values: Any = await redis.mget([keys.monitor(n.decode()) for n in names])
    parts = []
    for value in values:
        if value is None:
            continue  # expired: the worker stopped without leaving (killed)
        try:
            parts.append(WorkerPart.model_validate_json(value))
        except ValidationError:
            log.debug("unreadable monitor part skipped (a worker of another version?)")
    return parts
