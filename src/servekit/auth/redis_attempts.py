"""Login attempts in Redis (distributed mode): one sorted set per limited key, scored by time."""

from __future__ import annotations

import math
import secrets
from typing import Any, cast


class RedisAttempts:
    """Attempts shared by every API process of a deployment through its Redis."""

    def __init__(self, redis: Any, prefix: str) -> None:
        self.redis = redis
        self.prefix = f"{prefix}:login:"

    async def add(
        self, keys: list[str], *, now: float, window: float
    ) -> tuple[list[object], dict[str, tuple[int, float]]]:
        """Count one attempt per key, then read each key's count in the window and its oldest.

        One MULTI transaction: added and counted together, so concurrent attempts see each other.
        """
        member = f"{now:.6f}:{secrets.token_hex(4)}"
        pipe = self.redis.pipeline(transaction=True)
        for key in keys:
            name = self.prefix + key
            pipe.zremrangebyscore(name, "-inf", now - window)
            pipe.zadd(name, {member: now})
            pipe.zcard(name)
            pipe.zrange(name, 0, 0, withscores=True)
            pipe.expire(name, math.ceil(window) + 1)
        results = await pipe.execute()
        counts = {}
        for i, key in enumerate(keys):
            count, oldest = results[5 * i + 2], results[5 * i + 3]
            counts[key] = (int(count), float(oldest[0][1]) if oldest else now)
        return [(self.prefix + key, member) for key in keys], counts

    async def remove(self, tokens: list[object]) -> None:
        """Take back attempts that ``add`` counted."""
        pipe = self.redis.pipeline(transaction=False)
        for token in tokens:
            name, member = cast(tuple[str, str], token)
            pipe.zrem(name, member)
        await pipe.execute()

    async def clear(self, keys: list[str]) -> None:
        """Forget every attempt of these keys."""
        if keys:
            await self.redis.delete(*(self.prefix + key for key in keys))
