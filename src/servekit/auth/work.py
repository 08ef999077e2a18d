"""Password hashing bounded: a few checks at once, a few more waiting, the rest refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread

from servekit.exceptions import Overloaded

T = TypeVar("T")


class PasswordWork:
    """Runs argon2 off the event loop, at most ``concurrent`` at a time.

    Each check holds argon2's memory for its length, so unbounded concurrent logins (failed ones
    included: anyone can send them) would hold it many times over. Past ``waiting`` requests in
    line, a check is refused with 503 and Retry-After rather than queued without end.
    """

    def __init__(self, *, concurrent: int, waiting: int) -> None:
        self._limiter = anyio.CapacityLimiter(concurrent)
        self._max_waiting = waiting
        self._waiting = 0

    async def run(self, function: Callable[..., T], *args: object) -> T:
        """``function(*args)`` in a worker thread, once a slot is free."""
        if self._waiting >= self._max_waiting and self._limiter.available_tokens == 0:
            raise Overloaded("too many password checks at once", retry_after=1.0)
        self._waiting += 1
        try:
            await self._limiter.acquire()
        finally:
            self._waiting -= 1
        try:
            return await anyio.to_thread.run_sync(function, *args)
        finally:
            self._limiter.release()
