"""Users in the database; a deleted user stays as a tombstone, so that no id is given twice."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from servekit.auth.names import normalize_email
from servekit.auth.tokens import ROLES
from servekit.exceptions import Conflict
from servekit.storage.tables import ApiKey, Feedback, User

TOMBSTONE_DOMAIN = "deleted.invalid"
"""Deleted users' emails become ``<id>@deleted.invalid``: ``.invalid`` is reserved (RFC 2606),
so no one can register such an address."""


async def create_user(
    session: AsyncSession, *, email: str, name: str, password_hash: str, role: str = "user"
) -> User:
    """Add a user; an email already in use (in its normal form) raises Conflict."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    email = normalize_email(email)
    user = User(email=email, name=name, password_hash=password_hash, role=role)
    session.add(user)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise Conflict(f"a user with email {email} exists already") from None
    return user


async def get_user(session: AsyncSession, *, user_id: int) -> User | None:
    """The live user with this id (None for a deleted one)."""
    user = await session.get(User, user_id)
    return None if user is None or user.deleted_at is not None else user


async def get_user_by_email(session: AsyncSession, *, email: str) -> User | None:
    """The live user with this email (compared in its normal form), if any."""
    query = select(User).where(User.email == normalize_email(email), User.deleted_at.is_(None))
    return (await session.execute(query)).scalar_one_or_none()


async def list_users(session: AsyncSession) -> list[User]:
    """Every live user, oldest first."""
    query = select(User).where(User.deleted_at.is_(None)).order_by(User.id)
    return list((await session.execute(query)).scalars())


async def token_generation(session: AsyncSession, *, user_id: int) -> int | None:
    """The generation a token of this user must carry; None when there is no live user."""
    query = select(User.token_generation).where(User.id == user_id, User.deleted_at.is_(None))
    return (await session.execute(query)).scalar_one_or_none()


async def delete_user(session: AsyncSession, *, user_id: int) -> bool:
    """Delete a user: their keys and feedback go, their predictions stay without a name on them.

    The row stays as a tombstone with its email, name and hash scrubbed: its id is never given
    again, and predictions logged for it a moment ago can still be written. False when there was
    no live user.
    """
    result = await session.execute(
        update(User)
        .where(User.id == user_id, User.deleted_at.is_(None))
        .values(
            email=f"{user_id}@{TOMBSTONE_DOMAIN}",
            name="",
            password_hash="",
            role="user",
            deleted_at=datetime.now(UTC),
            token_generation=User.token_generation + 1,
        )
    )
    if not getattr(result, "rowcount", 0):
        await session.rollback()
        return False
    await session.execute(delete(ApiKey).where(ApiKey.user_id == user_id))
    await session.execute(delete(Feedback).where(Feedback.user_id == user_id))
    await session.commit()
    return True


async def set_role(session: AsyncSession, *, user: User, role: str) -> None:
    """Give the user another role; their tokens end (a new login carries the new role)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if role != user.role:
        user.role = role
        user.token_generation += 1
    await session.commit()


async def set_password_hash(
    session: AsyncSession, *, user: User, password_hash: str, end_tokens: bool = True
) -> None:
    """Store a new password hash; with ``end_tokens``, every token issued before ends."""
    user.password_hash = password_hash
    if end_tokens:
        user.token_generation += 1
    await session.commit()
