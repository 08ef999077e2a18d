"""Admission to the batcher: the queue is bounded by how long its rows would wait, not only by rows."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from servekit.batching.batcher import Batcher
from servekit.exceptions import Overloaded
from tests.batching.test_batcher import Model, run, values

CALL_S = 0.05
BATCH = 4
WAIT_S = 0.1
"""With 4 rows a 50 ms call the model clears 80 rows a second: 8 rows wait at most 100 ms."""


async def flood(batcher: Batcher, requests: int) -> list[Any]:
    """Submit single-row requests one after another as fast as they are taken or refused."""
    return await asyncio.gather(
        *(batcher.submit([{"x": float(i)}]) for i in range(requests)), return_exceptions=True
    )


def test_the_queue_takes_what_the_model_clears_in_max_queue_wait() -> None:
    model = Model(delay=CALL_S)

    async def body(batcher: Batcher) -> None:
        assert batcher.queue_limit() == 1000  # nothing measured yet: the row limit alone
        backlog = asyncio.create_task(flood(batcher, 40))
        await asyncio.sleep(6 * CALL_S)  # a few full batches: the drain rate is measured
        limit = batcher.queue_limit()
        assert 4 <= limit <= 16, limit  # about 80 rows/s x 100 ms, never under one batch
        await backlog
        # The queue is empty again: requests queue up to about the limit, then are refused.
        held: list[asyncio.Task[Any]] = []
        refusal: BaseException | None = None
        while refusal is None and len(held) < limit + 3 * BATCH:
            held.append(asyncio.create_task(batcher.submit([{"x": 1.0}])))
            await asyncio.sleep(0)  # it is queued (or refused) before the next one
            if held[-1].done():
                refusal = held.pop().exception()
        assert isinstance(refusal, Overloaded)
        assert re.search(r"limit is \d+ now \(what it clears in 100 ms\)", str(refusal))
        assert limit <= len(held) <= limit + 2 * BATCH  # some left the queue for the model
        assert all(values(r) == [2.0] for r in await asyncio.gather(*held))

    run(model, body, max_batch_size=BATCH, max_queue_wait=WAIT_S)


def test_an_empty_queue_takes_a_request_longer_than_the_time_bound() -> None:
    model = Model(delay=CALL_S)

    async def body(batcher: Batcher) -> None:
        await flood(batcher, 24)
        assert batcher.queue_limit() < 20
        answer = await batcher.submit([{"x": float(i)} for i in range(20)])
        assert values(answer) == [2.0 * i for i in range(20)]

    run(model, body, max_batch_size=BATCH, max_queue_wait=WAIT_S)


def test_requests_one_at_a_time_measure_no_backlog() -> None:
    model = Model(delay=0.001)

    async def body(batcher: Batcher) -> None:
        for i in range(10):
            await batcher.submit([{"x": float(i)}])
        assert batcher.queue_limit() == 1000  # the model was never the bottleneck

    run(model, body, max_batch_size=BATCH, max_queue_wait=WAIT_S)


def test_requests_let_in_are_counted_with_what_runs_at_once() -> None:
    model = Model(delay=CALL_S)

    async def body(batcher: Batcher) -> None:
        await flood(batcher, 24)
        limit = max(batcher.queue_limit(), BATCH)  # never under a batch for the one call
        batcher.admit(1, in_progress=limit - 1)
        with pytest.raises(Overloaded, match=f"{limit} requests in progress, and the limit is"):
            batcher.admit(1, in_progress=limit)

    run(model, body, max_batch_size=BATCH, max_queue_wait=WAIT_S)


def test_a_stopped_batcher_admits_nothing() -> None:
    async def body(batcher: Batcher) -> None:
        await batcher.stop(grace=0.1)
        with pytest.raises(Overloaded, match="shutting down"):
            batcher.admit(1, in_progress=0)

    run(Model(), body)
