"""Gathering one batch from a queue: the whole policy of adaptive batching in one function."""

from __future__ import annotations

import asyncio
import time
from typing import TypeVar

T = TypeVar("T")


async def collect(
    queue: asyncio.Queue[T],
    *,
    max_size: int,
    max_wait: float,
    enough: int | None = None,
    idle: float | None = None,
) -> list[T]:
    """Wait for one item, then take up to ``max_size`` items in all.

    Items already queued are taken at once; after that, more are awaited only until there are
    ``enough`` (``max_size`` by default), until ``max_wait`` seconds (on the monotonic clock)
    after the first item arrived, or, with ``idle``, until no item has arrived for ``idle``
    seconds. With ``max_wait=0`` a lone item leaves at once, so an idle model adds no latency.
    """
    items = [await queue.get()]
    last = time.monotonic()
    deadline = last + max_wait
    target = max_size if enough is None else min(enough, max_size)
    while len(items) < max_size:
        try:
            items.append(queue.get_nowait())
            continue
        except asyncio.QueueEmpty:
            pass
        if len(items) >= target:
            break
        now = time.monotonic()
        remaining = deadline - now if idle is None else min(deadline, last + idle) - now
        if remaining <= 0:
            break
        try:
            items.append(await asyncio.wait_for(queue.get(), remaining))
        except TimeoutError:
            break
        last = time.monotonic()
    return items
