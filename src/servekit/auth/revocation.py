"""Who a prediction's token or key stands for, remembered briefly, and forgotten on revocation.

A prediction must not cost a database round trip, so the checks behind a token (its user still
there, its generation current) and behind an API key (still live, whose) are remembered for at
most ``ttl_s`` seconds. A revocation (a user deleted, demoted or given a new password; a key
revoked) is forgotten at once in the process that made it, at once in every process of a
deployment that shares Redis (a message on one channel), and within ``ttl_s`` everywhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from servekit.auth.keys import key_hash
from servekit.auth.tokens import Claims
from servekit.exceptions import NotAuthenticated
from servekit.storage.db import Database
from servekit.storage.keys import user_for_key
from servekit.storage.users import token_generation

log = logging.getLogger("servekit.auth")
MAX_ENTRIES = 10_000
"""Entries each table may hold; past it the table starts again empty (a bound, not a policy)."""
RETRY_S = 1.0
"""Wait before subscribing again after Redis went away."""


def channel(prefix: str) -> str:
    """The Redis channel a deployment's revocations are announced on."""
    return f"{prefix}:revocations"


async def announce(redis: Any, on: str, message: str) -> None:
    """Tell the deployment's other processes (a failure is logged: the database has it anyway)."""
    try:
        await redis.publish(on, message)
    except Exception as exc:
        # The revocation is in the database: other processes see it within the cache's bound.
        log.warning(
            "could not announce a revocation on Redis (%s): others see it within the cache time",
            exc,
        )


def user_revoked(user_id: int) -> str:
    """The message that says a user's tokens and keys are revoked."""
    return f"user:{user_id}"


def check_generation(claims: Claims, current: int | None) -> int:
    """The token's user id when ``current`` (the user's generation, None if gone) is the token's."""
    if current is None:
        raise NotAuthenticated("the token's user no longer exists")
    if current != claims.generation:
        raise NotAuthenticated(
            "the token was revoked (the account's role or password changed); log in again"
        )
    return claims.user_id


@dataclass
class AccessCache:
    """The checks behind tokens and keys, each remembered for at most ``ttl_s`` seconds."""

    database: Database
    ttl_s: float
    _generations: dict[int, tuple[int | None, float]] = field(default_factory=dict)
    _keys: dict[str, tuple[int | None, float]] = field(default_factory=dict)
    _epoch: int = 0

    async def check_token(self, claims: Claims) -> int:
        """The token's user id, when its user is live and the token of their current generation."""

        async def read(session: AsyncSession) -> int | None:
            return await token_generation(session, user_id=claims.user_id)

        current = await self._look_up(self._generations, claims.user_id, read, keep_none=True)
        return check_generation(claims, current)

    async def key_owner(self, key: str) -> int:
        """The id of the live key's owner; NotAuthenticated for an unknown or revoked key."""

        async def read(session: AsyncSession) -> int | None:
            owner = await user_for_key(session, key=key)
            return None if owner is None else owner.id

        # Unknown keys are not remembered: a stream of made-up keys cannot fill the table.
        owner_id = await self._look_up(self._keys, key_hash(key), read, keep_none=False)
        if owner_id is None:
            raise NotAuthenticated("the API key is not valid (unknown or revoked)")
        return owner_id

    async def _look_up(
        self,
        table: dict[Any, tuple[int | None, float]],
        key: Any,
        read: Callable[[AsyncSession], Awaitable[int | None]],
        *,
        keep_none: bool,
    ) -> int | None:
        now = time.monotonic()
        cached = table.get(key)
        if cached is not None and cached[1] > now:
            return cached[0]
        epoch = self._epoch
        async with self.database.session() as session:
            value = await read(session)
        # NOTE: a revocation that came while the database was read may predate what was read:
        # nothing read across one is kept.
        if (value is not None or keep_none) and self.ttl_s > 0 and epoch == self._epoch:
            if len(table) >= MAX_ENTRIES:
                table.clear()
            table[key] = (value, now + self.ttl_s)
        else:
            table.pop(key, None)
        return value

    def forget_user(self, user_id: int) -> None:
        """Check the user, and every key of theirs, against the database on their next request."""
        self._epoch += 1
        self._generations.pop(user_id, None)
        for digest in [d for d, (owner, _) in self._keys.items() if owner == user_id]:
            del self._keys[digest]

    def forget_key(self, digest: str) -> None:
        """Check the key (by its hash) against the database on its next request."""
        self._epoch += 1
        self._keys.pop(digest, None)

    def forget_all(self) -> None:
        """Forget everything (revocations may have been missed)."""
        self._epoch += 1
        self._generations.clear()
        self._keys.clear()


@dataclass
class Revocations:
    """Tells this process's cache, and through Redis every other process's, what was revoked."""

    cache: AccessCache
    redis: Any = None
    """A ``redis.asyncio.Redis`` shared by the deployment's processes, or None."""
    channel: str = channel("servekit")
    _listener: asyncio.Task[None] | None = None

    async def user(self, user_id: int) -> None:
        """The user's tokens and keys are revoked (deleted, new role, new password)."""
        self.cache.forget_user(user_id)
        await self._publish(user_revoked(user_id))

    async def key(self, key_hash_hex: str) -> None:
        """One key is revoked."""
        self.cache.forget_key(key_hash_hex)
        await self._publish(f"key:{key_hash_hex}")

    async def _publish(self, message: str) -> None:
        if self.redis is not None:
            await announce(self.redis, self.channel, message)

    async def start(self) -> None:
        """Listen for other processes' revocations (with Redis)."""
        if self.redis is not None:
            self._listener = asyncio.create_task(self._listen(), name="revocations")

    async def stop(self) -> None:
        """Stop listening."""
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener

    async def _listen(self) -> None:
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.subscribe(self.channel)
                    # Whatever was revoked while no subscription stood is unknown: start afresh.
                    self.cache.forget_all()
                    while True:
                        # NOTE: polled with a timeout of its own, not listen(): the client's
                        # socket timeout would end a quiet subscription every few seconds.
                        message = await pubsub.get_message(
                            ignore_subscribe_messages=True, timeout=1.0
                        )
                        if message is not None and message.get("type") == "message":
                            self._apply(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("revocations: lost the Redis subscription (%s); retrying", exc)
                await asyncio.sleep(RETRY_S)

    def _apply(self, data: bytes | str) -> None:
        text = data.decode() if isinstance(data, bytes) else data
        kind, _, value = text.partition(":")
        if kind == "user" and value.isdigit():
            self.cache.forget_user(int(value))
        elif kind == "key":
            self.cache.forget_key(value)
