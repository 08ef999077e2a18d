"""Accounts: register, and for admins list and delete; a user may read only themself."""

from __future__ import annotations

import anyio.to_thread
from fastapi import APIRouter, Response

from servekit.api.deps import AdminUser, CurrentUser, SessionDep
from servekit.api.schemas import ErrorPublic, UserCreate, UserPublic
from servekit.auth.passwords import check_strength, hash_password
from servekit.exceptions import NotFound
from servekit.storage.tables import User
from servekit.storage.users import create_user, delete_user, list_users

router = APIRouter(tags=["users"])
ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorPublic},
    403: {"model": ErrorPublic},
    404: {"model": ErrorPublic},
}


@router.post(
    "/users", status_code=201, responses={409: {"model": ErrorPublic}, 422: {"model": ErrorPublic}}
)
async def register(body: UserCreate, session: SessionDep) -> UserPublic:
    """Create an account with the user role."""
    check_strength(body.password, email=body.email, name=body.name)
    password_hash = await anyio.to_thread.run_sync(hash_password, body.password)
    user = await create_user(session, email=body.email, name=body.name, password_hash=password_hash)
    return UserPublic.model_validate(user)


@router.get("/users", responses=ERRORS)
async def all_users(admin: AdminUser, session: SessionDep) -> list[UserPublic]:
    """Every account (admins only)."""
    return [UserPublic.model_validate(u) for u in await list_users(session)]


@router.get("/users/me", responses=ERRORS)
async def me(user: CurrentUser) -> UserPublic:
    """The account of the token's owner."""
    return UserPublic.model_validate(user)


# NOTE: ``:int``, so that /users/me is no path of these two routes (its Allow said DELETE).
@router.get("/users/{user_id:int}", responses=ERRORS)
async def one_user(user_id: int, user: CurrentUser, session: SessionDep) -> UserPublic:
    """One account: admins see any, a user only their own (another's is a 404, not a 403)."""
    found = await session.get(User, user_id) if user.role == "admin" or user.id == user_id else None
    if found is None:
        raise NotFound(f"no user {user_id}")
    return UserPublic.model_validate(found)


@router.delete("/users/{user_id:int}", status_code=204, responses=ERRORS)
async def remove_user(user_id: int, admin: AdminUser, session: SessionDep) -> Response:
    """Delete an account with its keys and feedback (admins only)."""
    if not await delete_user(session, user_id=user_id):
        raise NotFound(f"no user {user_id}")
    return Response(status_code=204)
