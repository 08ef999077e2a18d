"""Who is asking: the one place that reads a request's bearer token or API key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from servekit.auth.revocation import AccessCache, check_generation
from servekit.auth.tokens import TokenService
from servekit.exceptions import NotAuthenticated
from servekit.storage.keys import user_for_key
from servekit.storage.tables import User
from servekit.storage.users import get_user

ANONYMOUS = None


@dataclass(frozen=True, slots=True)
class Presented:
    """What a request showed: a bearer token or an API key."""

    kind: Literal["token", "key"]
    value: str


@dataclass
class Credentials:
    """Checks a request's bearer token (``Authorization: Bearer``) or API key (``X-API-Key``).

    The token wins when both come. Predictions ask ``user_id``: the token's signature, then its
    user and generation through the access cache (a revocation reaches it at once in this
    process and through Redis, within the cache's time elsewhere). Account routes ask ``user``:
    the user's row, read now.
    """

    tokens: TokenService
    access: AccessCache
    allow_anonymous: bool

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
            return await self.access.check_token(self.tokens.verify(presented.value))
        return await self.access.key_owner(presented.value)

    async def user(self, request: Request, session: AsyncSession) -> User:
        """The caller, read from the database now: a revoked key or token is refused at once."""
        presented = self.presented(request)
        if presented is None:
            raise NotAuthenticated(
                "log in first: send Authorization: Bearer <token> (POST /auth/token) or X-API-Key"
            )
        if presented.kind == "key":
            owner = await user_for_key(session, key=presented.value)
            if owner is None or owner.deleted_at is not None:
                raise NotAuthenticated("the API key is not valid (unknown or revoked)")
            return owner
        claims = self.tokens.verify(presented.value)
        user = await get_user(session, user_id=claims.user_id)
        check_generation(claims, None if user is None else user.token_generation)
        assert user is not None  # check_generation refused a missing one
        return user
