"""Login attempts in the database: counted per limited key within a sliding window."""

from __future__ import annotations

from sqlalchemy import delete, func, select, text

from servekit.storage.db import Database
from servekit.storage.tables import LoginAttempt


class DatabaseAttempts:
    """Attempts shared by every process of a server through its database."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._pruned = 0.0

    async def add(
        self, keys: list[str], *, now: float, window: float
    ) -> tuple[list[object], dict[str, tuple[int, float]]]:
        """Count one attempt for each key; then, per key, the attempts in the window and the oldest.

        NOTE: added and counted in one transaction that holds each key's lock, so that
        concurrent attempts are counted one after another: of N at once, exactly a limit's worth
        see themselves within it. (Committed first and counted after, a burst on PostgreSQL
        could all see the whole burst, and all be refused.) SQLite's write lock, taken by the
        insert, serializes them; on PostgreSQL an advisory lock per key does.
        """
        async with self.database.session() as session:
            if self.database.url.startswith("postgresql"):
                for key in sorted(keys):  # always in one order: two attempts never deadlock
                    await session.execute(
                        text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": int(key[:15], 16)}
                    )
            if now - self._pruned > min(window, 60.0):
                await session.execute(delete(LoginAttempt).where(LoginAttempt.at <= now - window))
                self._pruned = now
            rows = [LoginAttempt(key=key, at=now) for key in keys]
            session.add_all(rows)
            await session.flush()
            query = (
                select(LoginAttempt.key, func.count(), func.min(LoginAttempt.at))
                .where(LoginAttempt.key.in_(keys), LoginAttempt.at > now - window)
                .group_by(LoginAttempt.key)
            )
            counts = {
                key: (int(n), float(oldest)) for key, n, oldest in await session.execute(query)
            }
            await session.commit()
        return [row.id for row in rows], counts

    async def remove(self, tokens: list[object]) -> None:
        """Take back attempts that ``add`` counted."""
        async with self.database.session() as session:
            await session.execute(delete(LoginAttempt).where(LoginAttempt.id.in_(tokens)))
            await session.commit()

    async def clear(self, keys: list[str]) -> None:
        """Forget every attempt of these keys."""
        async with self.database.session() as session:
            await session.execute(delete(LoginAttempt).where(LoginAttempt.key.in_(keys)))
            await session.commit()
