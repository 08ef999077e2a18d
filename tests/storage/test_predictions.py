"""The prediction log on SQLite and PostgreSQL: batched writes off the request path, every row accounted for."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select

from servekit.ids import new_id
from servekit.storage.db import Database
from servekit.storage.predictions import PredictionLog
from servekit.storage.tables import PredictionRecord


def predicted(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": new_id(),
            "model": "iris",
            "version": "1",
            "inputs": {"sepal_length": 5.1},
            "output": {"prediction": "setosa"},
            "warnings": [],
            "latency_ms": 0.5,
            "user_id": None,
        }
        for _ in range(n)
    ]


async def logged_count(database: Database) -> int:
    async with database.session() as session:
        return int(
            (await session.execute(select(func.count()).select_from(PredictionRecord))).scalar_one()
        )


def test_a_flush_writes_what_is_pending_and_returns_while_rows_keep_coming(
    database_url: str,
) -> None:
    async def main() -> None:
        async with Database(database_url) as database:
            await database.prepare()
            log = PredictionLog(
                database, sample_rate=1.0, batch_size=100, flush_interval=60, max_pending=100_000
            )
            log.record(predicted(250))
            recorded = 250
            flushed = asyncio.Event()

            async def keep_predicting() -> None:
                nonlocal recorded
                for _ in range(20_000):  # bounded, so that a flush that never returns fails
                    if flushed.is_set():
                        return
                    log.record(predicted(1))
                    recorded += 1
                    await asyncio.sleep(0)

            traffic = asyncio.create_task(keep_predicting())
            await log.flush()
            flushed.set()
            await traffic
            # Rows recorded during the flush wait for the next round: under steady traffic a flush
            # ends, and the writer does not chase the queue in batches of a few rows.
            assert await logged_count(database) == 250
            assert recorded > 250
            await log.stop()
            assert await logged_count(database) == recorded

    asyncio.run(main())
