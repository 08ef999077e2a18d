"""A chore run in the background now and then every interval, until stopped (retention's)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable


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

    def start(self) -> None:
        """Start it (on the running event loop)."""
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Stop it; a chore under way is cancelled where it waits."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.chore()
            except Exception as exc:
                self.log.error(
                    "%s failed: %s; it runs again in %s s", self.name, exc, self.interval_s
                )
            await asyncio.sleep(self.interval_s)
