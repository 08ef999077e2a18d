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
    """Run ``work``; if the client disconnects first, cancel it and raise ClientDisconnected.

    The work runs in the request's own task (no task of its own: one less per request); a
    disconnect cancels that task, and the cancellation is turned into ClientDisconnected here.
    """
    current = asyncio.current_task()
    assert current is not None, "until_disconnected runs in a task"
    gone = finished = False
    watchers: list[asyncio.Task[None]] = []

    def seen(watcher: asyncio.Task[None]) -> None:
        nonlocal gone
        if finished or watcher.cancelled() or watcher.exception() is not None:
            return
        gone = True
        current.cancel()

    def watch() -> None:
        watcher = asyncio.ensure_future(_disconnected(receive))
        watcher.add_done_callback(seen)
        watchers.append(watcher)

    timer = asyncio.get_running_loop().call_later(WATCH_AFTER, watch)
    try:
        return await work
    except asyncio.CancelledError:
        # Ours, and nobody else's (a server shutdown cancels too): the client left.
        if gone and current.uncancel() == 0:
            raise ClientDisconnected("the client went away before its answer was ready") from None
        raise
    finally:
        finished = True
        timer.cancel()
        for watcher in watchers:
            watcher.cancel()
