"""The in-process executor: concurrent requests' rows gathered into shared model calls."""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field

from servekit.batching.collect import collect
from servekit.batching.isolate import RunBatch, run_isolated
from servekit.exceptions import DeadlineExceeded, Overloaded, PredictionError
from servekit.monitoring import metrics
from servekit.repository.manifest import Manifest
from servekit.runtimes.base import Row, RowOutput

ARRIVAL_GAP = 0.25
"""A batch waiting for rows stops once none has arrived for this share of ``max_wait``: the
clients it waited for are back, or they are not coming (independent, open-loop traffic)."""

RATE_WEIGHT = 0.2
"""Weight of the newest measurement in the moving average of a model's drain rate."""


@dataclass(eq=False, slots=True)
class _Job:
    """One request: its future is resolved when every one of its rows has an output."""

    future: asyncio.Future[list[RowOutput]]
    deadline: float
    enqueued: float
    outputs: list[RowOutput | None]
    remaining: int

    def deliver(self, index: int, output: RowOutput) -> None:
        self.outputs[index] = output
        self.remaining -= 1
        if self.remaining == 0 and not self.future.done():
            self.future.set_result(self.outputs)  # type: ignore[arg-type]

    def fail(self, error: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(error)


@dataclass(eq=False, slots=True)
class _Item:
    """One row in the queue, pointing back at its request."""

    job: _Job
    index: int
    row: Row


@dataclass
class Batcher:
    """Gathers rows of concurrent requests into calls of at most ``max_batch_size`` rows.

    A lone row on an idle model runs at once; rows that arrive while a batch runs form the
    next one. ``max_wait`` applies only under load: while another batch of this model runs, or
    after a batch of several rows (whose clients are about to send their next rows); the wait
    ends early once those rows are back, or once rows stop arriving (ARRIVAL_GAP).

    The queue holds at most ``max_queue_rows`` rows, and no more than the model clears in
    ``max_queue_wait`` seconds at the rate it was last seen to clear a backlog (never fewer than
    one batch): beyond, ``admit`` and ``submit`` raise Overloaded, so a queued row waits about
    ``max_queue_wait`` at most however slow the model or the loop has become.
    """

    manifest: Manifest
    run_batch: RunBatch
    max_queue_rows: int
    max_queue_wait: float = math.inf
    concurrency: int = 1
    _queue: asyncio.Queue[_Item] = field(init=False)
    _slots: asyncio.Semaphore = field(init=False)
    _tasks: set[asyncio.Task[None]] = field(init=False, default_factory=set)
    _loop_task: asyncio.Task[None] | None = field(init=False, default=None)
    _in_flight: int = field(init=False, default=0)
    _closed: bool = field(init=False, default=False)
    _last_size: int = field(init=False, default=0)
    _rate: float = field(init=False, default=0.0)
    """Rows a second the model clears while rows wait (a moving average; 0 until measured)."""
    _last_gather: float = field(init=False, default=0.0)
    _backlogged: bool = field(init=False, default=False)
    _limits: tuple[int, int] = field(init=False, default=(0, 0))
    """The queue's limit in rows, and the limit of requests in progress (``admit``)."""
    _timed: bool = field(init=False, default=False)
    """Whether the limits come from the drain rate (else from ``max_queue_rows``)."""

    def __post_init__(self) -> None:
        m = self.manifest
        self.max_batch_size = m.batching.max_batch_size
        self.max_wait = m.batching.max_wait_ms / 1000
        labels = (m.name, m.version)
        self._batch_size = metrics.BATCH_SIZE.labels(*labels)
        self._queue_depth = metrics.QUEUE_DEPTH.labels(*labels)
        self._queue_wait = metrics.QUEUE_WAIT_SECONDS.labels(*labels)
        self._rejected = {
            r: metrics.REJECTIONS.labels(*labels, r) for r in metrics.REJECTION_REASONS
        }
        self._set_limits()

    async def start(self) -> None:
        """Start gathering (call from the event loop that will submit)."""
        self._queue = asyncio.Queue()
        self._slots = asyncio.Semaphore(self.concurrency)
        self._loop_task = asyncio.create_task(self._gather(), name=f"batcher {self.manifest.key}")

    async def stop(self, grace: float = 10.0) -> None:
        """Refuse new rows, let queued and running batches finish within ``grace`` seconds, then stop."""
        self._closed = True
        try:
            async with asyncio.timeout(grace):
                await self._queue.join()  # every queued row gathered into a batch (or dropped)
                while self._tasks:
                    await asyncio.wait(set(self._tasks))
        except TimeoutError:
            pass
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def queue_limit(self) -> int:
        """Rows the queue may hold now: the row limit, or fewer if they would wait too long."""
        return self._limits[0]

    def _set_limits(self) -> None:
        # Worked out when the rate changes (once a batch), so that a check is a comparison.
        timed = (
            math.inf
            if self._rate == 0.0 or self.max_queue_wait == math.inf
            else max(self.max_batch_size, int(self._rate * self.max_queue_wait))
        )
        rows = self.max_queue_rows if timed >= self.max_queue_rows else int(timed)
        # Requests in progress: the same, but at least a batch for each call that runs at once.
        self._limits = (rows, max(rows, self.max_batch_size * self.concurrency))
        self._timed = timed < self.max_queue_rows

    async def observe(self) -> None:
        """Nothing to read: its gauges are set as rows pass."""

    def admit(self, rows: int, *, in_progress: int | None = None) -> None:
        """Raise Overloaded unless ``rows`` more rows may be queued now.

        With ``in_progress`` (requests let in and not answered: on their way to the queue,
        queued or running), those are counted instead of the queue's rows, against the same
        limit but never fewer than a batch for each call that may run at once.
        """
        if in_progress is None:
            held, limit = self._queue.qsize(), self._limits[0]
        else:
            held, limit = in_progress, self._limits[1]
        # NOTE: an empty queue takes any request (up to the row limit), however many rows.
        if (
            held + rows <= limit or (not held and rows <= self.max_queue_rows)
        ) and not self._closed:
            return
        if self._closed:
            self._rejected["shutdown"].inc()
            raise Overloaded(f"{self.manifest.key} is shutting down")
        self._rejected["queue_full"].inc()
        what = "rows queued" if in_progress is None else "requests in progress"
        why = f" now (what it clears in {self.max_queue_wait * 1000:g} ms)" if self._timed else ""
        raise Overloaded(f"{self.manifest.key} has {held} {what}, and the limit is {limit}{why}")

    async def submit(self, rows: list[Row], *, deadline: float = math.inf) -> list[RowOutput]:
        """Queue the rows and wait for their outputs until ``deadline`` (monotonic seconds)."""
        self.admit(len(rows))
        now = time.monotonic()
        loop = asyncio.get_running_loop()
        job = _Job(loop.create_future(), deadline, now, [None] * len(rows), len(rows))
        for i, row in enumerate(rows):
            self._queue.put_nowait(_Item(job, i, row))
        self._queue_depth.inc(len(rows))
        # NOTE: a timer handle, not asyncio.timeout(): the same effect for a fraction of the cost.
        timer = None if deadline == math.inf else loop.call_at(deadline, self._expire, job)
        try:
            return await job.future
        except asyncio.CancelledError:
            # The client went away: its rows still queued are skipped when their batch is gathered.
            self._rejected["disconnect"].inc()
            job.future.cancel()
            raise
        finally:
            if timer is not None:
                timer.cancel()

    def _expire(self, job: _Job, when: str = "within the request's deadline") -> None:
        if not job.future.done():
            self._rejected["deadline"].inc()
            job.fail(DeadlineExceeded(f"no answer from {self.manifest.key} {when}"))

    async def _gather(self) -> None:
        while True:
            await self._slots.acquire()
            # Light traffic (the last batch was a lone row, nothing else running) never waits.
            # Under load, a batch may wait up to max_wait for the rows whose clients were just
            # answered (they are about to send again), but no longer than until they are here.
            busy = self._in_flight > 0 or self._last_size > 1
            expected = None if self._in_flight else self._queue.qsize() + self._last_size
            items = await collect(
                self._queue,
                max_size=self.max_batch_size,
                max_wait=self.max_wait if busy else 0.0,
                enough=expected,
                idle=self.max_wait * ARRIVAL_GAP,
            )
            self._last_size = len(items)
            self._queue_depth.dec(len(items))
            now = time.monotonic()
            self._measure(len(items), now)
            live = []
            for item in items:
                job = item.job
                if job.future.done():  # cancelled, timed out, or failed on another row
                    continue
                if now >= job.deadline:
                    self._expire(job, "in time: the deadline passed while its rows were queued")
                    continue
                self._queue_wait.observe(now - job.enqueued)
                live.append(item)
            if live:
                self._in_flight += 1
                task = asyncio.create_task(self._execute(live))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            else:
                self._slots.release()
            # NOTE: only after the batch's task exists, so that stop() sees it once join() returns.
            for _ in items:
                self._queue.task_done()

    def _measure(self, taken: int, now: float) -> None:
        # Rows left behind at the last gathering (or a full batch) mean the model, not the
        # arrivals, set the pace since: the rows taken now over that time are its drain rate.
        if self._backlogged and now > self._last_gather:
            sample = taken / (now - self._last_gather)
            rate = self._rate
            self._rate = sample if rate == 0.0 else rate + RATE_WEIGHT * (sample - rate)
            self._set_limits()
        self._last_gather = now
        self._backlogged = taken == self.max_batch_size or self._queue.qsize() > 0

    async def _execute(self, items: list[_Item]) -> None:
        try:
            self._batch_size.observe(len(items))
            results = await run_isolated(
                self.run_batch,
                [item.row for item in items],
                wanted=lambda i: not items[i].job.future.done(),
            )
            for item, result in zip(items, results, strict=True):
                if isinstance(result, PredictionError):
                    single = len(items) == 1
                    item.job.fail(
                        result if single else PredictionError(f"row {item.index}: {result}")
                    )
                elif result is not None:
                    item.job.deliver(item.index, result)
        finally:
            self._in_flight -= 1
            self._slots.release()
