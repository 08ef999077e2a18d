"""A chore run in the background now and then every interval, until stopped (retention's)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

STOP_WAIT_S = 10.0
"""How long ``stop`` lets a chore under way finish before it cancels it."""


class Periodic:
    """Runs ``chore`` at start and every ``interval_s``; a failure is logged, and tried again."""

    def __init__(
        self,
        chore: Callable[[], Awaitable[object]],
        interval_s: float,
        *,
        name: str,
        log: logging.Logger,
    ) -> None:
        self.chore = chore
        self.interval_s = interval_s
        self.name = name
        self.log = log
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def start(self) -> None:
        """Start it (on the running event loop)."""
        self._stopping = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Stop it: the wait between chores ends at once; a chore under way is let finish.

        NOTE: not cancelled mid-chore. A database call cancelled where it waits leaves its
        driver's thread running (aiosqlite) with a connection the pool never gets back; the
        loop then closes under it ("Event loop is closed" from the driver's thread). A chore
        that takes longer than ``STOP_WAIT_S`` is cancelled all the same, and that is logged.
        """
        if self._task is None:
            return
        self._stopping.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), STOP_WAIT_S)
        except TimeoutError:
            self.log.warning("%s took over %s s to finish: cancelled", self.name, STOP_WAIT_S)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.chore()
            except Exception as exc:
                self.log.error(
                    "%s failed: %s; it runs again in %s s", self.name, exc, self.interval_s
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval_s)
