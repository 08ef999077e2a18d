"""collect(): one batch from a queue, bounded by size and by a monotonic deadline."""

from __future__ import annotations

import asyncio
import time

from servekit.batching.collect import collect


def queue_of(*items: int) -> asyncio.Queue[int]:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)
    return queue


def test_takes_what_is_queued_up_to_max_size() -> None:
    async def main() -> None:
        queue = queue_of(*range(10))
        assert await collect(queue, max_size=4, max_wait=0) == [0, 1, 2, 3]
        assert await collect(queue, max_size=100, max_wait=0) == [4, 5, 6, 7, 8, 9]

    asyncio.run(main())


def test_a_lone_item_leaves_at_once_without_a_wait() -> None:
    async def main() -> None:
        queue = queue_of(1)
        later = asyncio.get_running_loop().call_later(0.05, queue.put_nowait, 2)
        assert await collect(queue, max_size=8, max_wait=0) == [1]
        later.cancel()

    asyncio.run(main())


def test_waits_for_the_first_item() -> None:
    async def main() -> None:
        queue = queue_of()
        asyncio.get_running_loop().call_later(0.02, queue.put_nowait, 7)
        assert await collect(queue, max_size=8, max_wait=0) == [7]

    asyncio.run(main())


def test_items_arriving_before_the_deadline_join_the_batch() -> None:
    async def main() -> None:
        queue = queue_of(1)
        loop = asyncio.get_running_loop()
        loop.call_later(0.01, queue.put_nowait, 2)
        loop.call_later(0.02, queue.put_nowait, 3)
        late = loop.call_later(2.0, queue.put_nowait, 4)  # long after the deadline
        assert await collect(queue, max_size=8, max_wait=0.5) == [1, 2, 3]
        late.cancel()

    asyncio.run(main())


def test_stops_at_the_deadline_when_the_batch_is_not_full() -> None:
    async def main() -> tuple[list[int], float]:
        queue = queue_of(1)
        start = time.monotonic()
        items = await collect(queue, max_size=8, max_wait=0.05)
        return items, time.monotonic() - start

    items, elapsed = asyncio.run(main())
    assert items == [1]
    assert elapsed >= 0.05


def test_a_full_batch_does_not_wait_for_the_deadline() -> None:
    async def main() -> list[int]:
        queue = queue_of(1, 2, 3)
        return await asyncio.wait_for(collect(queue, max_size=3, max_wait=3600), timeout=5)

    assert asyncio.run(main()) == [1, 2, 3]


def test_stops_waiting_once_there_are_enough() -> None:
    async def main() -> tuple[list[int], float]:
        queue = queue_of(1, 2)
        start = time.monotonic()
        items = await collect(queue, max_size=8, max_wait=3600, enough=2)
        return items, time.monotonic() - start

    items, elapsed = asyncio.run(main())
    assert items == [1, 2]
    assert elapsed < 1


def test_enough_still_takes_what_is_already_queued() -> None:
    async def main() -> list[int]:
        return await collect(queue_of(1, 2, 3, 4), max_size=8, max_wait=3600, enough=2)

    assert asyncio.run(main()) == [1, 2, 3, 4]


def test_with_idle_the_wait_ends_once_items_stop_arriving() -> None:
    async def main() -> None:
        queue = queue_of(1)
        loop = asyncio.get_running_loop()
        for i, delay in enumerate((0.05, 0.10, 0.15), start=2):  # each within idle of the last
            loop.call_later(delay, queue.put_nowait, i)
        late = loop.call_later(2.0, queue.put_nowait, 9)  # well past idle, before max_wait
        assert await collect(queue, max_size=8, max_wait=10, idle=0.5) == [1, 2, 3, 4]
        late.cancel()

    asyncio.run(main())
