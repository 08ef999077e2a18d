"""API keys for service clients: made and revoked by their owner, sent as X-API-Key."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from servekit.api.deps import CurrentUser, RevocationsDep, SessionDep
from servekit.api.schemas import ErrorPublic
from servekit.auth.tokens import MAX_USER_ID
from servekit.exceptions import Forbidden, NotFound
from servekit.storage.keys import create_key, list_keys, revoke_key

router = APIRouter(tags=["api keys"])


class KeyCreate(BaseModel):
    """What making a key takes."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)


class KeyPublic(BaseModel):
    """A key as listed: never the key itself."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    user_id: int
    """Whose key it is."""
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


class KeyCreated(KeyPublic):
    """A new key: ``key`` is shown this once."""

    key: str


@router.post("/keys", status_code=201, responses={401: {"model": ErrorPublic}})
async def make_key(body: KeyCreate, user: CurrentUser, session: SessionDep) -> KeyCreated:
    """Make a key for yourself; keep it, it is not shown again."""
    record, key = await create_key(session, user_id=user.id, name=body.name)
    return KeyCreated(**KeyPublic.model_validate(record).model_dump(), key=key)


@router.get("/keys", responses={401: {"model": ErrorPublic}, 403: {"model": ErrorPublic}})
async def my_keys(
    user: CurrentUser,
    session: SessionDep,
    everyone: Annotated[
        bool, Query(description="Every user's keys, not only yours (admins only)")
    ] = False,
) -> list[KeyPublic]:
    """Your keys, revoked ones included; an admin may ask for everyone's."""
    if everyone and user.role != "admin":
        raise Forbidden("everyone's keys are for admins only")
    owner = None if everyone else user.id
    return [KeyPublic.model_validate(k) for k in await list_keys(session, user_id=owner)]


@router.delete(
    "/keys/{key_id}",
    status_code=204,
    responses={401: {"model": ErrorPublic}, 404: {"model": ErrorPublic}},
)
async def revoke(
    key_id: Annotated[int, Path(ge=1, le=MAX_USER_ID, description="The key's id")],
    user: CurrentUser,
    session: SessionDep,
    revocations: RevocationsDep,
) -> Response:
    """Revoke one of your keys (another user's key is a 404; an admin may revoke any); it stops
    working at once."""
    owner = None if user.role == "admin" else user.id
    record = await revoke_key(session, user_id=owner, key_id=key_id)
    if record is None:
        raise NotFound(f"you have no live key {key_id}")
    await revocations.key(record.key_hash)
    return Response(status_code=204)
