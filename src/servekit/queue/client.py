"""The API's side of distributed mode: jobs go onto Redis Streams, results come back on one list."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
import time
from typing import Any

from redis.exceptions import ResponseError

from servekit.config import QueueSettings
from servekit.exceptions import DeadlineExceeded, Overloaded, PredictionError, QueueUnavailable
from servekit.ids import new_id
from servekit.inputs.base import InputCodec
from servekit.monitoring import metrics
from servekit.queue.connection import UNAVAILABLE, connect, redacted
from servekit.queue.jobs import GROUP, Job, Keys, Reply
from servekit.repository.manifest import Manifest
from servekit.runtimes.base import Row, RowOutput

log = logging.getLogger("servekit.queue")

# Adds a job unless the stream already holds ARGV[1] entries; answers its entry id, or nil.
_ADD_IF_ROOM = """
if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[1]) then return false end
return redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))
"""

_STOP = b"stop"
"""Pushed by an API process onto its own reply list to wake its reader when it stops."""

NO_WORKER_RETRY_S = 5.0
"""Retry-After when no worker serves a model: about the time a worker takes to start."""

LIVE_FLOOR_S = 1.0
"""A worker whose last heartbeat is this recent counts as alive, however short its heartbeat."""

_LONGEST_DEADLINE_S = 24 * 3600.0
"""A job's deadline when its request has none (the server always sets one)."""


class JobQueue:
    """One API process's link to Redis: adds jobs, and reads every result meant for it.

    Results arrive on this process's own reply list, read by one background task that resolves
    each waiting request's future: no connection per request, and no result lost to a pub/sub race.
    """

    def __init__(self, url: str, settings: QueueSettings) -> None:
        self.url = url
        self.settings = settings
        self.keys = Keys(settings.prefix)
        self.redis = connect(url)
        # Random, not an id: ids may start with a timestamp, and two processes may start together.
        self.reply_to = self.keys.replies(secrets.token_hex(8))
        self.available = False
        self._add = self.redis.register_script(_ADD_IF_ROOM)
        self._waiting: dict[str, asyncio.Future[Reply]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._outbox: list[tuple[str, dict[str, str], asyncio.Future[str | None]]] = []
        self._ready = asyncio.Event()
        self._stopping = False
        self._chores: set[asyncio.Task[None]] = set()
        self._live: dict[str, float] = {}
        """Models seen served by a worker, until when (monotonic) that is believed."""
        self._asking: dict[str, asyncio.Future[bool]] = {}

    async def start(self) -> None:
        """Start reading results; a Redis that is down now only makes the server not ready."""
        try:
            await self.redis.ping()
            self._set_available(True)
        except UNAVAILABLE as exc:
            self._set_available(False)
            log.warning(
                "Redis at %s is unreachable (%s); predictions get 503 until it answers",
                redacted(self.url),
                exc,
            )
        self._reader = asyncio.create_task(self._read_results(), name="redis results")
        self._writer = asyncio.create_task(self._write_jobs(), name="redis jobs")

    async def stop(self) -> None:
        """Stop reading; requests still waiting are answered 503."""
        self._stopping = True
        if self._reader is not None and self.available:
            # NOTE: woken by a message rather than cancelled: a blocking pop of redis-py's asyncio
            # client that is cancelled can wait forever for its connection.
            with contextlib.suppress(*UNAVAILABLE):
                await self.redis.rpush(self.reply_to, _STOP)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._reader), 2.0)
        for task in (self._reader, self._writer):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        with contextlib.suppress(*UNAVAILABLE):
            await self.redis.delete(self.reply_to)
        for _, _, added in self._outbox:
            added.cancel()
        await asyncio.gather(*self._chores, return_exceptions=True)
        self._fail_waiting(Overloaded("the server is shutting down"))
        await self.redis.aclose()

    def _set_available(self, available: bool) -> None:
        self.available = available
        metrics.REDIS_UP.set(1 if available else 0)

    def _fail_waiting(self, error: Exception) -> None:
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(error)
        self._waiting.clear()

    async def add(
        self, stream: str, job_id: str, fields: dict[str, str]
    ) -> tuple[str, asyncio.Future[Reply]]:
        """Put a job on a model's stream; its future gets the result.

        Jobs of concurrent requests go to Redis together, in one round trip. Raises
        QueueUnavailable (503) when Redis is unreachable, Overloaded (503) when the stream is full.
        """
        loop = asyncio.get_running_loop()
        added: asyncio.Future[str | None] = loop.create_future()
        self._outbox.append((stream, fields, added))
        self._ready.set()
        future: asyncio.Future[Reply] = loop.create_future()
        self._waiting[job_id] = future
        try:
            entry = await added
        except BaseException:
            self._waiting.pop(job_id, None)
            if future.done() and not future.cancelled():
                future.exception()  # failed meanwhile by the reader: said once, by this raise
            raise
        if entry is None:
            self._waiting.pop(job_id, None)
            raise Overloaded(
                f"the job queue {stream} holds {self.settings.max_jobs} jobs, its limit",
                retry_after=1.0,
            )
        return entry, future

    async def _write_jobs(self) -> None:
        """Send every job added meanwhile in one pipeline, and tell each caller its entry id."""
        while True:
            await self._ready.wait()
            self._ready.clear()
            batch, self._outbox = self._outbox, []
            async with self.redis.pipeline(transaction=False) as pipe:
                for stream, fields, _ in batch:
                    args = [item for pair in fields.items() for item in pair]
                    await self._add(
                        keys=[stream], args=[self.settings.max_jobs, *args], client=pipe
                    )
                try:
                    entries: list[Any] = await pipe.execute()
                except UNAVAILABLE as exc:
                    self._set_available(False)
                    error: BaseException = QueueUnavailable(
                        f"the job queue (Redis) is unreachable: {exc}"
                    )
                    entries = [error] * len(batch)
                except Exception as exc:  # a Redis error reply: said to the callers, not hidden
                    entries = [exc] * len(batch)
            for (_, _, added), entry in zip(batch, entries, strict=True):
                if added.done():  # its caller went away
                    continue
                if isinstance(entry, BaseException):
                    added.set_exception(entry)
                else:
                    added.set_result(None if entry is None else entry.decode())

    def forget(self, job_id: str) -> None:
        """Stop waiting for a job (its result, if it comes, is dropped)."""
        self._waiting.pop(job_id, None)

    def discard(self, stream: str, entries: list[str]) -> None:
        """Remove jobs nobody waits for any more, so that no worker spends time on them (best effort)."""
        if not entries:  # XDEL needs at least one id
            return

        async def delete() -> None:
            with contextlib.suppress(*UNAVAILABLE):
                await self.redis.xdel(stream, *entries)

        task = asyncio.create_task(delete())
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)

    def _deliver(self, data: bytes) -> None:
        if data == _STOP:
            return
        try:
            reply = Reply.parse(data)
        except (ValueError, KeyError, TypeError) as exc:
            log.error("dropped an unreadable result: %r (%s)", data[:200], exc)
            return
        future = self._waiting.pop(reply.job_id, None)
        if future is None or future.done():
            metrics.RESULTS_DROPPED.inc()
            return
        future.set_result(reply)

    async def _read_results(self) -> None:
        pause = 0.05
        while not self._stopping:
            try:
                # Up to 1000 results in one round trip, waiting up to a second for the first.
                popped: Any = await self.redis.blmpop(
                    1, 1, self.reply_to, direction="LEFT", count=1000
                )
                if not self.available:
                    log.info("Redis at %s answers again", redacted(self.url))
                    self._set_available(True)
                pause = 0.05
                for data in popped[1] if popped else ():
                    self._deliver(data)
            except UNAVAILABLE as exc:
                if self.available:
                    log.error("lost Redis at %s: %s", redacted(self.url), exc)
                self._set_available(False)
                # Jobs may be gone with it: their callers hear so now rather than at their deadline.
                self._fail_waiting(
                    QueueUnavailable(f"the job queue (Redis) became unreachable: {exc}")
                )
                await asyncio.sleep(pause)
                pause = min(pause * 2, 1.0)

    async def workers(self) -> int:
        """Workers that sent a heartbeat lately."""
        return int(await self.redis.zcount(self.keys.workers(), self._live_since(), math.inf))

    async def has_worker(self, name: str, version: str) -> bool:
        """Whether a worker serving the model sent a heartbeat lately.

        A yes is remembered for one heartbeat: a served model costs one Redis call a second, not
        one a request; a no is asked again each time, so the first worker to come is seen at once.
        Concurrent askers share one call. With Redis unreachable, True: adding the job says
        that, with its own 503.
        """
        key = self.keys.model_workers(name, version)
        if self._live.get(key, 0.0) > time.monotonic() or not self.available:
            return True
        asking = self._asking.get(key)
        if asking is None:
            asking = self._asking[key] = asyncio.ensure_future(self._ask_live(key))
            asking.add_done_callback(lambda _: self._asking.pop(key, None))
        return await asyncio.shield(asking)

    def _live_since(self) -> float:
        """The oldest heartbeat that still counts: three heartbeats ago, and at least a second.

        NOTE: the floor is for short heartbeats (tests use 50 ms). A worker on a busy machine can
        miss three 50 ms beats in a row and be refused as gone while it is serving.
        """
        return time.time() - max(3 * self.settings.heartbeat_s, LIVE_FLOOR_S)

    async def _ask_live(self, key: str) -> bool:
        try:
            live = int(await self.redis.zcount(key, self._live_since(), math.inf)) > 0
        except UNAVAILABLE:
            return True
        if live:
            self._live[key] = time.monotonic() + self.settings.heartbeat_s
        return live

    async def depth(self, stream: str) -> tuple[int, int]:
        """Jobs in a stream: waiting for a worker, and taken by one but not done."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xlen(stream)
            pipe.xpending(stream, GROUP)
            length, pending = await pipe.execute(raise_on_error=False)
        if isinstance(length, Exception):
            raise length
        taken = 0 if isinstance(pending, ResponseError) else int(pending["pending"])
        return max(0, int(length) - taken), taken


class RedisExecutor:
    """Runs a model's rows on whichever ``servekit worker`` takes them from its Redis stream."""

    def __init__(self, queue: JobQueue, manifest: Manifest, codec: InputCodec) -> None:
        self.queue = queue
        self.manifest = manifest
        self.codec = codec
        self.stream = queue.keys.jobs(manifest.name, manifest.version)
        self.max_batch_size = manifest.batching.max_batch_size
        self._closed = False
        labels = (manifest.name, manifest.version)
        self._rejected = {
            r: metrics.REJECTIONS.labels(*labels, r) for r in metrics.REJECTION_REASONS
        }
        self._jobs = {s: metrics.QUEUE_JOBS.labels(*labels, s) for s in ("waiting", "pending")}

    async def start(self) -> None:
        """Nothing to start: the shared JobQueue reads the results."""

    async def stop(self, grace: float = 10.0) -> None:
        """Refuse new rows; the server waits for the requests in flight."""
        self._closed = True

    async def observe(self) -> None:
        """Refresh this model's queue gauges (before a scrape); nothing when Redis is down."""
        with contextlib.suppress(*UNAVAILABLE):
            waiting, pending = await self.queue.depth(self.stream)
            self._jobs["waiting"].set(waiting)
            self._jobs["pending"].set(pending)

    def admit(self, rows: int, *, in_progress: int | None = None) -> None:
        """Refuse only while shutting down: the queue's own bounds are on Redis (``submit``)."""
        if self._closed:
            self._rejected["shutdown"].inc()
            raise Overloaded(f"{self.manifest.key} is shutting down")

    async def submit(self, rows: list[Row], *, deadline: float = math.inf) -> list[RowOutput]:
        """Queue the rows as jobs of at most one batch each and wait for every result."""
        self.admit(len(rows))
        if not await self.queue.has_worker(self.manifest.name, self.manifest.version):
            self._rejected["no_worker"].inc()
            raise Overloaded(
                f"no worker serves {self.manifest.key} (none sent a heartbeat lately): "
                "start `servekit worker` for it",
                retry_after=NO_WORKER_RETRY_S,
            )
        remaining = _LONGEST_DEADLINE_S if deadline == math.inf else deadline - time.monotonic()
        wall_deadline = time.time() + remaining
        jobs = [
            Job(new_id(), wall_deadline, self.queue.reply_to, rows[i : i + self.max_batch_size])
            for i in range(0, len(rows), self.max_batch_size)
        ]
        entries: list[str] = []
        try:
            async with asyncio.timeout_at(None if deadline == math.inf else deadline):
                futures = []
                for job in jobs:
                    fields = job.fields(self.codec)
                    entry, future = await self.queue.add(self.stream, job.id, fields)
                    entries.append(entry)
                    futures.append(future)
                replies = await asyncio.gather(*futures)
        except Overloaded as exc:
            unavailable = isinstance(exc, QueueUnavailable)
            self._rejected["unavailable" if unavailable else "queue_full"].inc()
            self.queue.discard(self.stream, entries)  # the request's other jobs are no use now
            raise
        except TimeoutError:
            self._rejected["deadline"].inc()
            self.queue.discard(self.stream, entries)  # if no worker has taken them yet
            raise DeadlineExceeded(
                f"no answer from a worker for {self.manifest.key} within the request's deadline"
            ) from None
        except asyncio.CancelledError:
            # The client went away: its jobs are taken off the stream if no worker has them yet.
            self._rejected["disconnect"].inc()
            self.queue.discard(self.stream, entries)
            raise
        finally:
            for job in jobs:
                self.queue.forget(job.id)
        outputs: list[RowOutput] = []
        for reply in replies:
            if reply.error is not None:
                raise PredictionError(reply.error)
            assert reply.outputs is not None
            outputs.extend(reply.outputs)
        return outputs
