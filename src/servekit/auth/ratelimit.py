"""Failed logins counted per account and per client address, so that guessing is slow."""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field


@dataclass
class FailureLimiter:
    """At most ``limit`` failures per key within ``window`` seconds (in this process's memory)."""

    limit: int
    window: float
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[
                key
            ]  # NOTE: forget quiet keys, so the table cannot grow without bound
            return deque()
        return times

    def retry_after(self, key: str) -> int:
        """Seconds until ``key`` may try again; 0 when it may now."""
        now = time.monotonic()
        times = self._recent(key, now)
        if len(times) < self.limit:
            return 0
        return max(1, math.ceil(times[0] + self.window - now))

    def failed(self, key: str) -> None:
        """Count one failure for ``key``."""
        self._failures.setdefault(key, deque()).append(time.monotonic())
