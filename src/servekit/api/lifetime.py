"""How long a request may live: its deadline, and its end when the client goes away."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.types import Receive

from servekit.exceptions import ClientDisconnected, InvalidHeader

T = TypeVar("T")
TIMEOUT_HEADER = "x-request-timeout"


def request_deadline(request: Request, default_timeout: float) -> float:
    """The monotonic time by which this request must be answered.

    ``X-Request-Timeout`` (seconds) can only shorten the server's default.
    """
    timeout = default_timeout
    raw = request.headers.get(TIMEOUT_HEADER)
    if raw is not None:
        try:
            asked = float(raw)
        except ValueError:
            asked = math.nan
        if not (asked > 0 and math.isfinite(asked)):
            raise InvalidHeader(
                f"X-Request-Timeout must be a positive number of seconds, got {raw!r}"
            )
        timeout = min(timeout, asked)
    return time.monotonic() + timeout


async def _disconnected(receive: Receive) -> None:
    # The body is already read: the next message the server sends is the disconnect.
    while (await receive())["type"] != "http.disconnect":
        pass


# Requests answered sooner than this never start a disconnect watcher: most requests, at no cost.
# A client that leaves earlier is still noticed at this point, while its rows wait in a queue.
WATCH_AFTER = 0.05


async def until_disconnected(work: Coroutine[Any, Any, T], receive: Receive) -> T:
    """Run ``work``; if the client disconnects first, cancel it and raise ClientDisconnected."""
    task = asyncio.ensure_future(work)
    watchers: list[asyncio.Task[None]] = []

    def watch() -> None:
        watcher = asyncio.ensure_future(_disconnected(receive))
        watcher.add_done_callback(lambda w: w.cancelled() or task.cancel())
        watchers.append(watcher)

    timer = asyncio.get_running_loop().call_later(WATCH_AFTER, watch)
    try:
        return await task
    except asyncio.CancelledError:
        if not _cancelling():  # the watcher cancelled the work, not the server the request
            raise ClientDisconnected("the client went away before its answer was ready") from None
        raise
    finally:
        timer.cancel()
        for watcher in watchers:
            watcher.cancel()


def _cancelling() -> bool:
    # True when the request's own task is being cancelled (server shutdown), not just its work.
    current = asyncio.current_task()
    return current is not None and current.cancelling() > 0
