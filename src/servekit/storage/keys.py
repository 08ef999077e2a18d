"""API keys in the database."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from servekit.auth.keys import generate_key, key_hash, key_matches, key_prefix
from servekit.storage.tables import ApiKey, User


async def create_key(session: AsyncSession, *, user_id: int, name: str) -> tuple[ApiKey, str]:
    """A new key for the user; the key itself is returned once and never stored."""
    prefix, key = generate_key()
    record = ApiKey(user_id=user_id, name=name, prefix=prefix, key_hash=key_hash(key))
    session.add(record)
    await session.commit()
    return record, key


async def list_keys(session: AsyncSession, *, user_id: int | None) -> list[ApiKey]:
    """The user's keys (everyone's when ``user_id`` is None), revoked ones included, oldest first."""
    query = select(ApiKey).order_by(ApiKey.id)
    if user_id is not None:
        query = query.where(ApiKey.user_id == user_id)
    return list((await session.execute(query)).scalars())


async def revoke_key(session: AsyncSession, *, user_id: int | None, key_id: int) -> ApiKey | None:
    """Revoke one of the user's own keys (any key when ``user_id`` is None); None when there is
    no such live key."""
    record = await session.get(ApiKey, key_id)
    owned = user_id is None or (record is not None and record.user_id == user_id)
    if record is None or not owned or record.revoked_at is not None:
        return None
    record.revoked_at = datetime.now(UTC)
    await session.commit()
    return record


async def user_for_key(session: AsyncSession, *, key: str) -> User | None:
    """The owner of a live key, or None for a malformed, unknown or revoked one."""
    prefix = key_prefix(key)
    if prefix is None:
        return None
    query = select(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))
    for record in (await session.execute(query)).scalars():
        if key_matches(key, record.key_hash):
            owner = await session.get(User, record.user_id)
            return owner if owner is not None and owner.deleted_at is None else None
    return None
