"""The batcher: concurrent rows share model calls, errors stay with their rows, queues are bounded."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from servekit.batching.batcher import Batcher
from servekit.exceptions import DeadlineExceeded, Overloaded, PredictionError
from servekit.repository.manifest import Manifest
from servekit.runtimes.base import Row, RowOutput

T = TypeVar("T")


def manifest(max_batch_size: int = 8, max_wait_ms: float = 0) -> Manifest:
    return Manifest.model_validate(
        {
            "name": "probe",
            "runtime": "python",
            "task": "regression",
            "inputs": [{"name": "x", "type": "float"}],
            "batching": {"max_batch_size": max_batch_size, "max_wait_ms": max_wait_ms},
        }
    )


class Model:
    """Doubles x after ``delay`` seconds; records each call's batch; raises on negative x."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls: list[list[float]] = []
        self.gate: asyncio.Event | None = None

    async def __call__(self, rows: list[Row]) -> list[RowOutput]:
        self.calls.append([r["x"] for r in rows])
        if self.gate is not None:
            await self.gate.wait()
        await asyncio.sleep(self.delay)
        if any(r["x"] < 0 for r in rows):
            raise PredictionError("negative x")
        return [RowOutput(prediction=r["x"] * 2) for r in rows]


def run(model: Model, body: Callable[[Batcher], Awaitable[T]], **options: Any) -> T:
    async def main() -> T:
        batcher = Batcher(
            manifest(options.pop("max_batch_size", 8), options.pop("max_wait_ms", 0)),
            model,
            max_queue_rows=options.pop("max_queue_rows", 1000),
            **options,
        )
        await batcher.start()
        try:
            return await body(batcher)
        finally:
            await batcher.stop(grace=1)

    return asyncio.run(main())


def values(outputs: list[RowOutput]) -> list[Any]:
    return [o.prediction for o in outputs]


def test_a_lone_request_runs_at_once_as_its_own_batch() -> None:
    model = Model()
    result = run(model, lambda b: b.submit([{"x": 1.0}]))
    assert values(result) == [2.0]
    assert model.calls == [[1.0]]


def test_concurrent_requests_share_model_calls() -> None:
    model = Model(delay=0.02)

    async def body(batcher: Batcher) -> list[list[RowOutput]]:
        return await asyncio.gather(*(batcher.submit([{"x": float(i)}]) for i in range(20)))

    results = run(model, body)
    assert [values(r) for r in results] == [[2.0 * i] for i in range(20)]
    # All 20 were queued before the model's first call: three calls, none over max_batch_size.
    assert [len(c) for c in model.calls] == [8, 8, 4]


def test_a_request_larger_than_a_batch_is_split_and_kept_in_order() -> None:
    model = Model()
    result = run(model, lambda b: b.submit([{"x": float(i)} for i in range(20)]), max_batch_size=8)
    assert values(result) == [2.0 * i for i in range(20)]
    assert [len(c) for c in model.calls] == [8, 8, 4]


def test_a_bad_row_fails_only_its_own_request() -> None:
    model = Model(delay=0.01)

    async def body(batcher: Batcher) -> list[Any]:
        return await asyncio.gather(
            *(batcher.submit([{"x": x}]) for x in (1.0, 2.0, -1.0, 3.0, 4.0)),
            return_exceptions=True,
        )

    results = run(model, body)
    assert values(results[0]) == [2.0]
    assert isinstance(results[2], PredictionError)
    assert [values(r) for i, r in enumerate(results) if i != 2] == [[2.0], [4.0], [6.0], [8.0]]


def test_a_request_with_a_bad_row_fails_naming_the_row() -> None:
    model = Model()
    with pytest.raises(PredictionError, match="row 1"):
        run(model, lambda b: b.submit([{"x": 1.0}, {"x": -1.0}, {"x": 2.0}]))


def test_a_full_queue_refuses_at_once() -> None:
    model = Model()

    async def body(batcher: Batcher) -> None:
        model.gate = asyncio.Event()
        first = asyncio.create_task(batcher.submit([{"x": 1.0}]))  # occupies the model
        await asyncio.sleep(0.01)
        queued = asyncio.create_task(batcher.submit([{"x": 2.0}] * 3))
        await asyncio.sleep(0.01)
        start = time.monotonic()
        with pytest.raises(Overloaded) as refused:
            await batcher.submit([{"x": 3.0}] * 2)
        assert time.monotonic() - start < 1
        assert refused.value.retry_after > 0
        model.gate.set()
        assert values(await first) == [2.0]
        assert values(await queued) == [4.0] * 3

    run(model, body, max_queue_rows=4)


def test_a_deadline_passed_in_the_queue_never_reaches_the_model() -> None:
    model = Model()

    async def body(batcher: Batcher) -> None:
        model.gate = asyncio.Event()
        first = asyncio.create_task(batcher.submit([{"x": 1.0}]))
        await asyncio.sleep(0.01)
        with pytest.raises(DeadlineExceeded):
            await batcher.submit([{"x": 5.0}], deadline=time.monotonic() + 0.05)
        model.gate.set()
        await first
        await asyncio.sleep(0.05)

    run(model, body)
    assert model.calls == [[1.0]]


def test_a_cancelled_request_has_its_queued_rows_dropped() -> None:
    model = Model()

    async def body(batcher: Batcher) -> None:
        model.gate = asyncio.Event()
        first = asyncio.create_task(batcher.submit([{"x": 1.0}]))
        await asyncio.sleep(0.01)
        gone = asyncio.create_task(batcher.submit([{"x": 7.0}]))
        await asyncio.sleep(0.01)
        gone.cancel()
        await asyncio.gather(gone, return_exceptions=True)
        model.gate.set()
        await first
        assert values(await batcher.submit([{"x": 2.0}])) == [4.0]

    run(model, body)
    assert [7.0] not in model.calls
    assert all(7.0 not in call for call in model.calls)


def test_stop_finishes_queued_work_then_refuses_new_rows() -> None:
    model = Model(delay=0.01)

    async def main() -> None:
        batcher = Batcher(manifest(), model, max_queue_rows=100)
        await batcher.start()
        pending = [asyncio.create_task(batcher.submit([{"x": float(i)}])) for i in range(10)]
        await asyncio.sleep(0)
        await batcher.stop(grace=5)
        assert [values(await p) for p in pending] == [[2.0 * i] for i in range(10)]
        with pytest.raises(Overloaded, match="shutting down"):
            await batcher.submit([{"x": 1.0}])

    asyncio.run(main())


def test_max_wait_lets_a_second_concurrent_batch_fill_up() -> None:
    model = Model(delay=0.05)

    async def body(batcher: Batcher) -> None:
        first = asyncio.create_task(batcher.submit([{"x": 0.0}]))
        await asyncio.sleep(0.005)
        # With two model calls allowed, the next batch waits up to max_wait for company.
        later = [asyncio.create_task(batcher.submit([{"x": float(i)}])) for i in range(1, 4)]
        await asyncio.gather(first, *later)

    run(model, body, concurrency=2, max_wait_ms=30)
    assert model.calls == [[0.0], [1.0, 2.0, 3.0]]


def test_no_deadline_means_no_timeout() -> None:
    assert values(run(Model(), lambda b: b.submit([{"x": 1.0}], deadline=math.inf))) == [2.0]


def test_after_a_full_batch_the_next_one_waits_for_the_returning_clients() -> None:
    model = Model(delay=0.02)

    async def body(batcher: Batcher) -> None:
        await asyncio.gather(*(batcher.submit([{"x": float(i)}]) for i in range(3)))
        # The three clients come back a few milliseconds apart, as real ones do.
        later = []
        for i in (10.0, 11.0, 12.0):
            later.append(asyncio.create_task(batcher.submit([{"x": i}])))
            await asyncio.sleep(0.005)
        await asyncio.gather(*later)

    run(model, body, max_wait_ms=50)
    assert model.calls == [[0.0, 1.0, 2.0], [10.0, 11.0, 12.0]]


def test_a_lone_client_never_waits_for_company() -> None:
    model = Model()

    async def body(batcher: Batcher) -> float:
        await batcher.submit([{"x": 1.0}])
        start = time.monotonic()
        await batcher.submit([{"x": 2.0}])
        return time.monotonic() - start

    assert run(model, body, max_wait_ms=500) < 0.25
    assert model.calls == [[1.0], [2.0]]


def test_a_wait_for_returning_clients_ends_once_rows_stop_arriving() -> None:
    model = Model(delay=0.02)

    async def body(batcher: Batcher) -> float:
        await asyncio.gather(*(batcher.submit([{"x": float(i)}]) for i in range(3)))
        # Only one of the three comes back (independent clients): no waiting out max_wait.
        start = time.monotonic()
        await batcher.submit([{"x": 10.0}])
        return time.monotonic() - start

    # max_wait 4 s; rows stop arriving, so the batch leaves after a quarter of it (1 s).
    assert run(model, body, max_wait_ms=4000) < 3.0
    assert model.calls == [[0.0, 1.0, 2.0], [10.0]]
