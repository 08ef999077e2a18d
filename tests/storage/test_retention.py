"""Retention of the prediction log by age and by count, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import random
import time

from sqlalchemy import func, select

from servekit.storage.db import Database
from servekit.storage.predictions import PredictionLog
from servekit.storage.retention import CHUNK, LogRetention
from servekit.storage.tables import Feedback, PredictionRecord, User
from tests.storage.test_predictions import logged_count, new_log

DAY = 86_400.0


def id_made(seconds_ago: float) -> str:
    """A prediction id as new_id() would have made it ``seconds_ago``."""
    millis = int((time.time() - seconds_ago) * 1000)
    return f"{(millis << 80) | random.getrandbits(80):032x}"


def record(log: PredictionLog, ids: list[str]) -> None:
    log.record(
        model="iris",
        version="1",
        inputs=[{"sepal_length": 5.1}] * len(ids),
        answers=[(i, b'{"prediction":"setosa"}', b"[]") for i in ids],
        latency_ms=0.5,
        user_id=None,
    )


def test_rows_past_the_age_go_with_their_feedback_and_the_rest_stay(database_url: str) -> None:
    async def main() -> None:
        async with Database(database_url) as database:
            await database.prepare()
            log = new_log(database)
            old = sorted(id_made(40 * DAY + i) for i in range(CHUNK + 7))  # more than one chunk
            recent = [id_made(DAY), id_made(60)]
            record(log, old + recent)
            await log.flush()
            async with database.session() as session:
                user = User(email="a@example.com", name="A", password_hash="x")
                session.add(user)
                await session.flush()
                session.add(Feedback(prediction_id=old[0], user_id=user.id, label="setosa"))
                session.add(Feedback(prediction_id=recent[0], user_id=user.id, label="setosa"))
                await session.commit()

            retention = LogRetention(database, max_age_s=30 * DAY, max_rows=None, interval_s=60)
            assert await retention.prune() == len(old)
            assert await logged_count(database) == 2
            async with database.session() as session:
                kept = (await session.execute(select(PredictionRecord.id))).scalars().all()
                feedback = (await session.execute(select(Feedback.prediction_id))).scalars().all()
            assert sorted(kept) == sorted(recent)
            assert feedback == [recent[0]]
            assert await retention.prune() == 0
            await log.stop()

    asyncio.run(main())


def test_beyond_the_row_count_the_oldest_go(database_url: str) -> None:
    async def main() -> None:
        async with Database(database_url) as database:
            await database.prepare()
            log = new_log(database)
            ids = [id_made(100 - i) for i in range(20)]  # oldest first
            record(log, ids)
            await log.stop()
            retention = LogRetention(database, max_age_s=None, max_rows=5, interval_s=60)
            assert await retention.prune() == 15
            async with database.session() as session:
                kept = (await session.execute(select(PredictionRecord.id))).scalars().all()
                assert sorted(kept) == sorted(ids[-5:])
                count = (
                    await session.execute(select(func.count()).select_from(PredictionRecord))
                ).scalar_one()
            assert count == 5
            assert await retention.prune() == 0

    asyncio.run(main())


def test_retention_runs_in_the_background_beside_the_writer(database_url: str) -> None:
    async def main() -> None:
        async with Database(database_url) as database:
            await database.prepare()
            log = new_log(database)
            await log.start()
            retention = LogRetention(database, max_age_s=30 * DAY, max_rows=None, interval_s=0.05)
            await retention.start()
            record(log, [id_made(31 * DAY + i) for i in range(50)])
            for _ in range(10):  # rows keep coming while old ones go
                record(log, [id_made(0) for _ in range(20)])
                await asyncio.sleep(0.02)
            for _ in range(200):
                await log.flush()
                if await logged_count(database) == 200:
                    break
                await asyncio.sleep(0.02)
            await retention.stop()
            await log.stop()
            assert await logged_count(database) == 200

    asyncio.run(main())
