"""``servekit worker``: takes jobs from the models' Redis streams and runs them in batches.

Each model version has one stream and one consumer group; every worker joins the group, reads up
to ``max_batch_size`` jobs at a time, runs them as one batch (off the event loop, with the same
runtime and the same bad-row isolation as the in-process batcher), pushes each result to the
list of the API process that waits for it, then acknowledges and deletes the jobs. Jobs of a
worker that stops answering are taken over by another after ``claim_after_s``; a job whose every
delivery failed goes to the dead-letter stream and its caller gets an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from dataclasses import dataclass
from typing import Any

from prometheus_client import REGISTRY
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from servekit.batching.isolate import run_isolated
from servekit.config import QueueSettings
from servekit.exceptions import PredictionError
from servekit.inputs.registry import codec_for
from servekit.monitoring import metrics
from servekit.queue.connection import UNAVAILABLE, redacted
from servekit.queue.jobs import GROUP, Job, Keys, error_message, result_message
from servekit.queue.monitor import PartPublisher
from servekit.repository.manifest import Manifest
from servekit.runtimes.base import RowOutput
from servekit.serving.executor import ModelCall

log = logging.getLogger("servekit.worker")


_PRUNE_EVERY_S = 60.0
_PRUNE_IDLE_S = 600.0
"""Consumers idle this long with no pending job are removed from the group (dead workers)."""


@dataclass(slots=True)
class _Taken:
    """A job this worker holds: its stream entry, how often it was delivered, and its content."""

    entry: str
    deliveries: int
    job: Job | None
    problem: str | None = None


def consumer_name() -> str:
    """This worker's name in the consumer groups: host, pid, and a random part (pids repeat)."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class ModelWorker:
    """Works through one model version's stream until told to stop."""

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        settings: QueueSettings,
        consumer: str,
        call: ModelCall,
    ) -> None:
        self.redis = redis
        self.settings = settings
        self.consumer = consumer
        self.call = call
        self.manifest: Manifest = call.runtime.manifest
        self.codec = codec_for(self.manifest)
        m = self.manifest
        self.stream = keys.jobs(m.name, m.version)
        self.heartbeat_key = keys.model_workers(m.name, m.version)
        self.dead = keys.dead(m.name, m.version)
        self.max_batch_size = m.batching.max_batch_size
        self.claim_after_ms = int(settings.claim_after_s * 1000)
        self.running: set[str] = set()
        """Entries of the batches being run (kept claimed by the heartbeat)."""
        self.loops = m.batching.concurrency + 1
        """Batches in hand at once: one more than may run, so the next one is read meanwhile."""
        self._calls = asyncio.Semaphore(m.batching.concurrency)
        self._next_claim = 0.0
        self._next_prune = 0.0
        self._batch_size = metrics.BATCH_SIZE.labels(m.name, m.version)
        self._outcomes = {
            o: metrics.WORKER_JOBS.labels(m.name, m.version, o) for o in metrics.WORKER_JOB_OUTCOMES
        }
        self._reclaimed = metrics.WORKER_RECLAIMED.labels(m.name, m.version)

    async def join(self) -> None:
        """Create the stream's group if it is missing, from the start of the stream (no job skipped)."""
        try:
            await self.redis.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def run(self, stopping: asyncio.Event) -> None:
        """Take and run batches until ``stopping`` is set; the batches in hand are always finished.

        Several loops share the stream, so that reading the next batch and answering the last
        one overlap with the model's work; the model's own ``concurrency`` still bounds its calls.
        """
        await asyncio.gather(*(self._loop(stopping) for _ in range(self.loops)))

    async def _loop(self, stopping: asyncio.Event) -> None:
        pause = 0.05
        joined = False
        while not stopping.is_set():
            try:
                if not joined:
                    await self.join()
                    joined = True
                taken = await self._reclaim() or await self._read()
                if taken:
                    await self._run(taken)
                pause = 0.05
            except ResponseError as exc:
                if not str(exc).startswith(("NOGROUP", "UNBLOCKED")):
                    raise
                joined = False  # the stream or group is gone (Redis lost its data): join again
            except UNAVAILABLE as exc:
                log.warning("Redis unreachable (%s); retrying", exc)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 1.0)

    async def _read(self, count: int | None = None, *, wait: bool = True) -> list[_Taken]:
        """Up to ``count`` new jobs (a batch's worth by default); waiting for one, or not at all."""
        block_ms = max(1, int(min(self.settings.heartbeat_s, 0.5) * 1000))
        response: Any = await self.redis.xreadgroup(
            GROUP,
            self.consumer,
            {self.stream: ">"},
            count=count or self.max_batch_size,
            block=block_ms if wait else None,
        )
        return [
            self._parse(entry, fields, 1)
            for _, messages in response or ()
            for entry, fields in messages
        ]

    async def _reclaim(self) -> list[_Taken]:
        """Take over jobs idle longer than ``claim_after_s`` (their worker died, or they failed)."""
        now = time.monotonic()
        if now < self._next_claim:
            return []
        self._next_claim = now + min(self.settings.heartbeat_s, self.settings.claim_after_s / 2)
        if now >= self._next_prune:
            self._next_prune = now + _PRUNE_EVERY_S
            await self._prune()
        pending: Any = await self.redis.xpending_range(
            self.stream, GROUP, "-", "+", self.max_batch_size, idle=self.claim_after_ms
        )
        if not pending:
            return []
        delivered = {p["message_id"]: int(p["times_delivered"]) for p in pending}
        # NOTE: XCLAIM with the same idle bound: if two workers race, each job goes to one of them.
        claimed: Any = await self.redis.xclaim(
            self.stream, GROUP, self.consumer, self.claim_after_ms, list(delivered)
        )
        taken = [
            self._parse(entry, fields, delivered[entry] + 1)
            for entry, fields in claimed
            if fields  # an entry deleted meanwhile (its caller gone) comes back empty
        ]
        if taken:
            self._reclaimed.inc(len(taken))
            log.info("took over %d job(s) of %s", len(taken), self.manifest.key)
        return taken

    async def _prune(self) -> None:
        """Remove from the group the consumers of workers long gone that hold no job.

        A live worker reads at least every heartbeat, so its idle time stays short.
        """
        consumers: Any = await self.redis.xinfo_consumers(self.stream, GROUP)
        for c in consumers:
            idle = c["pending"] == 0 and c["idle"] > _PRUNE_IDLE_S * 1000
            if idle and c["name"].decode() != self.consumer:
                await self.redis.xgroup_delconsumer(self.stream, GROUP, c["name"])

    def _parse(self, entry: bytes, fields: dict[bytes, bytes], deliveries: int) -> _Taken:
        try:
            return _Taken(entry.decode(), deliveries, Job.from_fields(fields, self.codec))
        except (KeyError, ValueError, TypeError) as exc:
            return _Taken(entry.decode(), deliveries, None, f"unreadable job: {exc!r}")

    async def _admit(self, taken: list[_Taken]) -> list[_Taken]:
        """The jobs to run; the unreadable, the expired and the too often delivered are settled."""
        now = time.time()
        ready: list[_Taken] = []
        async with self.redis.pipeline(transaction=True) as pipe:
            for t in taken:
                if t.job is None:
                    self._dead_letter(pipe, t, t.problem or "unreadable job")
                elif now >= t.job.deadline:
                    # Its caller has had its 504: running it would only waste the model's time.
                    self._outcomes["expired"].inc()
                    self._done(pipe, t.entry)
                elif t.deliveries > self.settings.max_deliveries:
                    # Every delivery ended without an answer (workers killed on it, say).
                    self._dead_letter(
                        pipe, t, f"no worker finished it in {t.deliveries - 1} deliveries"
                    )
                else:
                    ready.append(t)
            if len(pipe):
                await pipe.execute()
        return ready

    async def _run(self, taken: list[_Taken]) -> None:
        ready = await self._admit(taken)
        if not ready:
            return
        waited = self._calls.locked()
        async with self._calls:
            # NOTE: topped up once the model is free. A batch read while the model was busy with
            # another holds only what had come by then; the jobs that came during that call wait
            # in the stream, and the calls ran half empty (10 rows of 16 with four workers on a
            # model of 100 ms a call: 408 rows/s where 640 were possible). Without a wait for
            # the model, nothing came meanwhile: no extra Redis call on an idle worker.
            room = self.max_batch_size - sum(len(t.job.rows) for t in ready if t.job is not None)
            if waited and room > 0:
                ready += await self._admit(await self._read(room, wait=False))
            entries = {t.entry for t in ready}
            self.running |= entries
            try:
                results = await self._predict([t.job for t in ready if t.job is not None])
            finally:
                self.running -= entries
        async with self.redis.pipeline(transaction=True) as pipe:
            for t, result in zip(ready, results, strict=True):
                assert t.job is not None
                if isinstance(result, list):
                    self._outcomes["done"].inc()
                    self._reply(pipe, t.job, result_message(t.job.id, result))
                    self._done(pipe, t.entry)
                elif t.deliveries >= self.settings.max_deliveries:
                    self._dead_letter(pipe, t, result)
                else:
                    # Left pending: after claim_after_s a worker (maybe this one) tries again.
                    self._outcomes["failed"].inc()
                    log.warning(
                        "job %s of %s failed (delivery %d of %d): %s",
                        t.job.id,
                        self.manifest.key,
                        t.deliveries,
                        self.settings.max_deliveries,
                        result,
                    )
            if len(pipe):
                await pipe.execute()

    async def _predict(self, jobs: list[Job]) -> list[list[RowOutput] | str]:
        """Each job's outputs, or its error; rows are run in calls of at most ``max_batch_size``.

        Called holding a model call slot (``_calls``).
        """
        rows = [(j, row) for j, job in enumerate(jobs) for row in job.rows]
        outputs: list[list[RowOutput]] = [[] for _ in jobs]
        errors: dict[int, str] = {}
        for start in range(0, len(rows), self.max_batch_size):
            chunk = rows[start : start + self.max_batch_size]
            self._batch_size.observe(len(chunk))
            results = await run_isolated(self.call, [row for _, row in chunk])
            for (j, _), result in zip(chunk, results, strict=True):
                if isinstance(result, PredictionError):
                    errors.setdefault(j, str(result))
                elif result is not None:
                    outputs[j].append(result)
        return [errors.get(j, outputs[j]) for j in range(len(jobs))]

    def _reply(self, pipe: Any, job: Job, message: str) -> None:
        pipe.rpush(job.reply_to, message)
        pipe.expire(job.reply_to, int(self.settings.result_ttl_s))

    def _done(self, pipe: Any, entry: str) -> None:
        pipe.xack(self.stream, GROUP, entry)
        pipe.xdel(self.stream, entry)

    def _dead_letter(self, pipe: Any, taken: _Taken, error: str) -> None:
        self._outcomes["dead_lettered"].inc()
        job = taken.job
        log.error(
            "job %s of %s moved to %s after %d deliveries: %s",
            job.id if job else taken.entry,
            self.manifest.key,
            self.dead,
            taken.deliveries,
            error,
        )
        fields: dict[str, str] = dict(job.fields(self.codec)) if job else {}
        fields.update(entry=taken.entry, deliveries=str(taken.deliveries), error=error)
        pipe.xadd(self.dead, fields, maxlen=self.settings.dead_letter_max, approximate=True)
        if job is not None:
            self._reply(
                pipe,
                job,
                error_message(
                    job.id, f"{error} (failed {taken.deliveries} deliveries; dead-lettered)"
                ),
            )
        self._done(pipe, taken.entry)


class Worker:
    """Serves some models from Redis until SIGTERM: one loop per model, and a heartbeat."""

    def __init__(
        self, redis: Redis, url: str, settings: QueueSettings, calls: list[ModelCall]
    ) -> None:
        self.redis = redis
        self.url = url
        self.settings = settings
        self.keys = Keys(settings.prefix)
        self.consumer = consumer_name()
        self.models = [ModelWorker(redis, self.keys, settings, self.consumer, c) for c in calls]
        self.stopping = asyncio.Event()
        self.monitor = PartPublisher(
            redis,
            self.keys.monitor(self.consumer),
            REGISTRY,
            [(m.manifest.name, m.manifest.version) for m in self.models],
            interval_s=settings.monitor_interval_s,
        )

    async def run(self) -> None:
        """Work until ``stopping`` is set, then finish the batches in hand and leave the groups."""
        log.info(
            "worker %s serving %s from %s",
            self.consumer,
            ", ".join(m.manifest.key for m in self.models),
            redacted(self.url),
        )
        beat = asyncio.create_task(self._heartbeat(), name="heartbeat")
        monitor = asyncio.create_task(self.monitor.run(self.stopping), name="monitor")
        try:
            await asyncio.gather(*(m.run(self.stopping) for m in self.models))
        finally:
            self.stopping.set()
            # NOTE: not cancelled: a cancelled redis-py command can hang on its connection.
            await beat
            await monitor
            with contextlib.suppress(*UNAVAILABLE):
                await self._leave()
        log.info("worker %s stopped", self.consumer)

    async def _heartbeat(self) -> None:
        """Say this worker is alive, and keep the jobs it is running from being taken over."""
        while not self.stopping.is_set():
            try:
                now, forgotten = time.time(), time.time() - 60 * self.settings.heartbeat_s
                async with self.redis.pipeline(transaction=False) as pipe:
                    # The worker, and each model it serves: the API refuses at once a model that
                    # no worker serves, instead of letting its requests wait out their deadline.
                    for key in (self.keys.workers(), *(m.heartbeat_key for m in self.models)):
                        pipe.zadd(key, {self.consumer: now})
                        pipe.zremrangebyscore(key, 0, forgotten)
                    await pipe.execute()
                for model in self.models:
                    if model.running:
                        # XCLAIM by the owner resets the idle time, without counting a delivery.
                        await self.redis.xclaim(
                            model.stream,
                            GROUP,
                            self.consumer,
                            0,
                            list[Any](model.running),
                            justid=True,
                        )
            except UNAVAILABLE:
                pass  # the model loops say so; beating resumes when Redis is back
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), self.settings.heartbeat_s)

    async def _leave(self) -> None:
        await self.monitor.withdraw()
        await self.redis.zrem(self.keys.workers(), self.consumer)
        for model in self.models:
            await self.redis.zrem(model.heartbeat_key, self.consumer)
            with contextlib.suppress(ResponseError):
                pending = await self.redis.xpending_range(
                    model.stream, GROUP, "-", "+", 1, consumername=self.consumer
                )
                # Jobs left pending (failed, awaiting another delivery) keep this consumer alive.
                if not pending:
                    await self.redis.xgroup_delconsumer(model.stream, GROUP, self.consumer)
