"""Who is asking: the one place that reads a request's bearer token or API key."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from servekit.auth.keys import key_hash
from servekit.auth.tokens import TokenService
from servekit.exceptions import NotAuthenticated
from servekit.storage.db import Database
from servekit.storage.keys import user_for_key
from servekit.storage.tables import User

ANONYMOUS = None


@dataclass(frozen=True, slots=True)
class Presented:
    """What a request showed: a bearer token or an API key."""

    kind: Literal["token", "key"]
    value: str


@dataclass
class Credentials:
    """Checks a request's bearer token (``Authorization: Bearer``) or API key (``X-API-Key``).

    The token wins when both come. Predictions ask ``user_id``: the token's signature only (no
    database round trip), a key's owner remembered for ``key_cache_s`` seconds, so a revoked key
    stops working within that time. Account routes ask ``user``: the user's row, read now.
    """

    tokens: TokenService
    database: Database
    allow_anonymous: bool
    key_cache_s: float
    _keys: dict[str, tuple[int, float]] = field(default_factory=dict)

    @staticmethod
    def presented(request: Request) -> Presented | None:
        """The token or key in the request's headers, if any; a malformed Authorization is refused."""
        authorization = request.headers.get("authorization")
        if authorization is not None:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token:
                raise NotAuthenticated("send the token as Authorization: Bearer <token>")
            return Presented("token", token)
        key = request.headers.get("x-api-key")
        return None if key is None else Presented("key", key)

    async def user_id(self, request: Request) -> int | None:
        """The caller's user id, for a prediction; None for an anonymous caller when that is allowed."""
        presented = self.presented(request)
        if presented is None:
            if self.allow_anonymous:
                return ANONYMOUS
            raise NotAuthenticated("predictions need a token (POST /auth/token) or an X-API-Key")
        if presented.kind == "token":
            return int(self.tokens.verify(presented.value)["sub"])
        return await self._key_owner(presented.value)

    async def user(self, request: Request, session: AsyncSession) -> User:
        """The caller, read from the database now: a revoked key or a deleted user is refused at once."""
        presented = self.presented(request)
        if presented is None:
            raise NotAuthenticated(
                "log in first: send Authorization: Bearer <token> (POST /auth/token) or X-API-Key"
            )
        if presented.kind == "key":
            owner = await user_for_key(session, key=presented.value)
            if owner is None:
                raise NotAuthenticated("the API key is not valid (unknown or revoked)")
            return owner
        user = await session.get(User, int(self.tokens.verify(presented.value)["sub"]))
        if user is None:
            raise NotAuthenticated("the token's user no longer exists")
        return user

    async def _key_owner(self, key: str) -> int:
        digest = key_hash(key)
        cached = self._keys.get(digest)
        now = time.monotonic()
        if cached is not None and cached[1] > now:
            return cached[0]
        async with self.database.session() as session:
            owner = await user_for_key(session, key=key)
        if owner is None:
            self._keys.pop(digest, None)
            raise NotAuthenticated("the API key is not valid (unknown or revoked)")
        if self.key_cache_s > 0:
            self._keys[digest] = (owner.id, now + self.key_cache_s)
        return owner.id
