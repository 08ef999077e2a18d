"""Named dependencies for routes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from servekit.api.credentials import Credentials
from servekit.auth.revocation import Revocations
from servekit.auth.tokens import TokenService
from servekit.auth.work import PasswordWork
from servekit.exceptions import Forbidden
from servekit.queue.client import JobQueue
from servekit.serving.registry import ServedModels
from servekit.storage.db import Database
from servekit.storage.tables import User


def _from_state(name: str) -> Callable[[Request], Any]:
    """A dependency that gives ``app.state.<name>``, set once by create_app."""

    def get(request: Request) -> Any:
        return getattr(request.app.state, name)

    return get


ServedDep = Annotated[ServedModels, Depends(_from_state("served"))]
QueueDep = Annotated[JobQueue | None, Depends(_from_state("queue"))]
"""The Redis job queue in distributed mode, else None."""


DatabaseDep = Annotated[Database, Depends(_from_state("database"))]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A database session for the length of the request."""
    async with request.app.state.database.session() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


TokensDep = Annotated[TokenService, Depends(_from_state("tokens"))]


CredentialsDep = Annotated[Credentials, Depends(_from_state("credentials"))]


RevocationsDep = Annotated[Revocations, Depends(_from_state("revocations"))]


PasswordWorkDep = Annotated[PasswordWork, Depends(_from_state("password_work"))]


# NOTE: for /docs only (the two ways in, and its Authorize button): Credentials reads the headers.
_bearer = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False)


def _documented(
    _token: Annotated[str | None, Depends(_bearer)], _key: Annotated[str | None, Depends(_api_key)]
) -> None:
    """Declares the bearer token and the X-API-Key header in the OpenAPI schema."""


async def current_user(
    request: Request,
    session: SessionDep,
    credentials: CredentialsDep,
    _: Annotated[None, Depends(_documented)],
) -> User:
    """The user whose token (``Authorization: Bearer``) or API key (``X-API-Key``) came with the request."""
    return await credentials.user(request, session)


CurrentUser = Annotated[User, Depends(current_user)]


async def admin_user(user: CurrentUser) -> User:
    """The current user, who must be an admin."""
    if user.role != "admin":
        raise Forbidden("this needs the admin role")
    return user


AdminUser = Annotated[User, Depends(admin_user)]
