"""Named dependencies for routes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from servekit.auth.tokens import TokenService
from servekit.exceptions import Forbidden, NotAuthenticated
from servekit.serving.registry import ServedModels
from servekit.storage.db import Database
from servekit.storage.keys import user_for_key
from servekit.storage.tables import User


def _from_state(name: str) -> Callable[[Request], Any]:
    """A dependency that gives ``app.state.<name>``, set once by create_app."""

    def get(request: Request) -> Any:
        return getattr(request.app.state, name)

    return get


ServedDep = Annotated[ServedModels, Depends(_from_state("served"))]


DatabaseDep = Annotated[Database, Depends(_from_state("database"))]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A database session for the length of the request."""
    async with request.app.state.database.session() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


TokensDep = Annotated[TokenService, Depends(_from_state("tokens"))]
_bearer = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)


_api_key = APIKeyHeader(name="X-API-Key", auto_error=False)


async def current_user(
    token: Annotated[str | None, Depends(_bearer)],
    key: Annotated[str | None, Depends(_api_key)],
    session: SessionDep,
    tokens: TokensDep,
) -> User:
    """The user whose token (``Authorization: Bearer``) or API key (``X-API-Key``) came with the request."""
    if token is None and key is not None:
        owner = await user_for_key(session, key=key)
        if owner is None:
            raise NotAuthenticated("the API key is not valid (unknown or revoked)")
        return owner
    if token is None:
        raise NotAuthenticated(
            "log in first: send Authorization: Bearer <token> (POST /auth/token) or X-API-Key"
        )
    claims = tokens.verify(token)
    user = await session.get(User, int(claims["sub"]))
    if user is None:
        raise NotAuthenticated("the token's user no longer exists")
    return user


CurrentUser = Annotated[User, Depends(current_user)]


async def admin_user(user: CurrentUser) -> User:
    """The current user, who must be an admin."""
    if user.role != "admin":
        raise Forbidden("this needs the admin role")
    return user


AdminUser = Annotated[User, Depends(admin_user)]
