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


async def until_disconnected(work: Coroutine[Any, Any, T], receive: Receive) -> T:
    """Run ``work``; if the client disconnects first, cancel it and raise ClientDisconnected."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(receive))
    try:
        await asyncio.wait((task, watcher), return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    if task.cancelled():
        raise ClientDisconnected("the client went away before its answer was ready")
    return task.result()
