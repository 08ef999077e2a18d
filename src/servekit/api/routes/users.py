"""Accounts: register, change one's password; for admins list, read, change roles and delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from servekit.api.deps import (
    AdminUser,
    CurrentUser,
    PasswordWorkDep,
    RevocationsDep,
    SessionDep,
)
from servekit.api.schemas import ErrorPublic, PasswordChange, RoleChange, UserCreate, UserPublic
from servekit.auth.passwords import check_strength, hash_password, verify_password
from servekit.auth.tokens import MAX_USER_ID
from servekit.exceptions import Forbidden, NotFound
from servekit.storage.users import (
    create_user,
    delete_user,
    get_user,
    list_users,
    set_password_hash,
    set_role,
)

router = APIRouter(tags=["users"])
UserId = Annotated[int, Path(ge=1, le=MAX_USER_ID, description="A user's id")]
ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorPublic},
    403: {"model": ErrorPublic},
    404: {"model": ErrorPublic},
}
BUSY: dict[int | str, dict[str, object]] = {
    503: {"model": ErrorPublic, "description": "Too many password checks at once: retry later"},
}


@router.post(
    "/users",
    status_code=201,
    responses={409: {"model": ErrorPublic}, 422: {"model": ErrorPublic}, **BUSY},
)
async def register(body: UserCreate, session: SessionDep, work: PasswordWorkDep) -> UserPublic:
    """Create an account with the user role (see the password's rules in its schema)."""
    check_strength(body.password, email=body.email, name=body.name)
    password_hash = await work.run(hash_password, body.password)
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


@router.put(
    "/users/me/password", status_code=204, responses={**ERRORS, 422: {"model": ErrorPublic}, **BUSY}
)
async def change_password(
    body: PasswordChange,
    user: CurrentUser,
    session: SessionDep,
    work: PasswordWorkDep,
    revocations: RevocationsDep,
) -> Response:
    """Set a new password; every token issued before ends (API keys stay)."""
    if not await work.run(verify_password, user.password_hash, body.current_password):
        # 403, not 422: the body is well formed, the caller has not proven who they are.
        raise Forbidden("the current password is wrong")
    check_strength(body.new_password, email=user.email, name=user.name)
    password_hash = await work.run(hash_password, body.new_password)
    await set_password_hash(session, user=user, password_hash=password_hash)
    await revocations.user(user.id)
    return Response(status_code=204)


@router.get("/users/{user_id:int}", responses=ERRORS)
async def one_user(user_id: UserId, user: CurrentUser, session: SessionDep) -> UserPublic:
    """One account: admins see any, a user only their own (another's is a 404, not a 403)."""
    allowed = user.role == "admin" or user.id == user_id
    found = await get_user(session, user_id=user_id) if allowed else None
    if found is None:
        raise NotFound(f"no user {user_id}")
    return UserPublic.model_validate(found)


@router.patch("/users/{user_id:int}", responses={**ERRORS, 422: {"model": ErrorPublic}})
async def change_role(
    user_id: UserId,
    body: RoleChange,
    admin: AdminUser,
    session: SessionDep,
    revocations: RevocationsDep,
) -> UserPublic:
    """Give a user another role (admins only); their tokens end, their next login carries it."""
    found = await get_user(session, user_id=user_id)
    if found is None:
        raise NotFound(f"no user {user_id}")
    await set_role(session, user=found, role=body.role)
    await revocations.user(user_id)
    return UserPublic.model_validate(found)


@router.delete("/users/{user_id:int}", status_code=204, responses=ERRORS)
async def remove_user(
    user_id: UserId, admin: AdminUser, session: SessionDep, revocations: RevocationsDep
) -> Response:
    """Delete an account (admins only): its tokens and keys stop working at once, its feedback
    goes, and its logged predictions stay without a user. Its id is never given again."""
    if not await delete_user(session, user_id=user_id):
        raise NotFound(f"no user {user_id}")
    await revocations.user(user_id)
    return Response(status_code=204)
