"""Users in the database."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from servekit.exceptions import Conflict
from servekit.storage.tables import User

ROLES = ("user", "admin")


async def create_user(
    session: AsyncSession, *, email: str, name: str, password_hash: str, role: str = "user"
) -> User:
    """Add a user; an email already in use raises Conflict."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    user = User(email=email.lower(), name=name, password_hash=password_hash, role=role)
    session.add(user)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise Conflict(f"a user with email {email.lower()} exists already") from None
    return user


async def get_user_by_email(session: AsyncSession, *, email: str) -> User | None:
    """The user with this email (compared without case), if any."""
    return (
        await session.execute(select(User).where(User.email == email.lower()))
    ).scalar_one_or_none()


async def list_users(session: AsyncSession) -> list[User]:
    """Every user, oldest first."""
    return list((await session.execute(select(User).order_by(User.id))).scalars())


async def delete_user(session: AsyncSession, *, user_id: int) -> bool:
    """Delete a user (their keys and feedback go with them); False when there was none."""
    result = await session.execute(delete(User).where(User.id == user_id))
    await session.commit()
    return bool(getattr(result, "rowcount", 0))
