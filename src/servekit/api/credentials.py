"""Who is asking for a prediction: checked on the hot path, without the dependency machinery."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from starlette.requests import Request

from servekit.auth.keys import key_hash
from servekit.auth.tokens import TokenService
from servekit.exceptions import NotAuthenticated
from servekit.storage.db import Database
from servekit.storage.keys import user_for_key

ANONYMOUS = None


@dataclass
class Credentials:
    """Checks a request's bearer token (signature only: no database round trip) or API key.

    A key's owner is remembered for ``key_cache_s`` seconds, so a revoked key stops working
    within that time; a token stays valid until it expires.
    """

    tokens: TokenService
    database: Database
    allow_anonymous: bool
    key_cache_s: float
    _keys: dict[str, tuple[int, float]] = field(default_factory=dict)

    async def user_id(self, request: Request) -> int | None:
        """The caller's user id; None for an anonymous caller when that is allowed."""
        authorization = request.headers.get("authorization")
        if authorization is not None:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token:
                raise NotAuthenticated("send the token as Authorization: Bearer <token>")
            return int(self.tokens.verify(token)["sub"])
        key = request.headers.get("x-api-key")
        if key is not None:
            return await self._key_owner(key)
        if self.allow_anonymous:
            return ANONYMOUS
        raise NotAuthenticated("predictions need a token (POST /auth/token) or an X-API-Key")

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
