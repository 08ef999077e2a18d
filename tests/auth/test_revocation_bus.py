"""Revocations reach every process of a deployment at once through Redis (real Redis, real database)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from redis.asyncio import Redis

from servekit.auth.revocation import AccessCache, Revocations
from servekit.auth.tokens import Claims
from servekit.exceptions import NotAuthenticated
from servekit.storage.db import Database
from servekit.storage.users import create_user, delete_user


async def _subscribed(redis: Redis, channel: str) -> None:
    for _ in range(250):
        if (await redis.pubsub_numsub(channel))[0][1] > 0:
            return
        await asyncio.sleep(0.02)
    pytest.fail(f"nobody subscribed to {channel} within 5 s")


def test_a_deletion_in_one_process_reaches_anothers_cache_at_once(
    tmp_path: Path, redis_url: str, prefix: str
) -> None:
    async def main() -> None:
        async with Database(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}") as database:
            await database.prepare()
            async with database.session() as session:
                user = await create_user(
                    session, email="bo@example.com", name="Bo", password_hash="x"
                )
            claims = Claims(user.id, "user", 0)
            redis_one, redis_two = Redis.from_url(redis_url), Redis.from_url(redis_url)
            # A cache time far longer than the test: only the message can make "two" forget.
            one = Revocations(AccessCache(database, 3600), redis_one, f"{prefix}:revocations")
            two = Revocations(AccessCache(database, 3600), redis_two, f"{prefix}:revocations")
            await two.start()
            try:
                await _subscribed(redis_one, f"{prefix}:revocations")
                assert await two.cache.check_token(claims) == user.id  # remembered now
                async with database.session() as session:
                    assert await delete_user(session, user_id=user.id)
                # Still remembered: nothing has told "two" yet.
                assert await two.cache.check_token(claims) == user.id
                await one.user(user.id)

                async def refused() -> bool:
                    try:
                        await two.cache.check_token(claims)
                    except NotAuthenticated:
                        return True
                    return False

                for _ in range(100):
                    if await refused():
                        break
                    await asyncio.sleep(0.02)
                else:
                    pytest.fail("the revocation did not reach the other process within 2 s")
            finally:
                await two.stop()
                await redis_one.aclose()
                await redis_two.aclose()

    asyncio.run(main())
