"""The prediction log on SQLite and PostgreSQL: batched writes off the request path, every row accounted for."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from pydantic_core import to_json
from sqlalchemy import func, select

from servekit.ids import new_id
from servekit.storage.bulk import row_writer
from servekit.storage.db import Database
from servekit.storage.predictions import PredictionLog, get_prediction
from servekit.storage.tables import PredictionRecord


def predict(log: PredictionLog, n: int, *, user_id: int | None = None) -> list[str]:
    """Record ``n`` predicted rows as the predict route does; their ids."""
    answers = [
        (new_id(), b'{"prediction":"setosa","probabilities":{"setosa":0.9}}', b"[]")
        for _ in range(n)
    ]
    log.record(
        model="iris",
        version="1",
        inputs=[{"sepal_length": 5.1}] * n,
        answers=answers,
        latency_ms=0.5,
        user_id=user_id,
    )
    return [a[0] for a in answers]


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
            predict(log, 250)
            recorded = 250
            flushed = asyncio.Event()

            async def keep_predicting() -> None:
                nonlocal recorded
                for _ in range(20_000):  # bounded, so that a flush that never returns fails
                    if flushed.is_set():
                        return
                    predict(log, 1)
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


def written() -> float:
    return (
        REGISTRY.get_sample_value("servekit_prediction_log_rows_total", {"outcome": "written"}) or 0
    )


def failed() -> float:
    return (
        REGISTRY.get_sample_value("servekit_prediction_log_rows_total", {"outcome": "failed"}) or 0
    )


def new_log(database: Database, **settings: Any) -> PredictionLog:
    options: dict[str, Any] = {
        "sample_rate": 1.0,
        "batch_size": 100,
        "flush_interval": 0.01,
        "max_pending": 100_000,
    }
    return PredictionLog(database, **{**options, **settings})


def test_logged_rows_read_back_as_they_were_predicted(database_url: str) -> None:
    async def main() -> None:
        async with Database(database_url) as database:
            await database.prepare()
            log = new_log(database)
            await log.start()
            warning = {"feature": "sepal_length", "kind": "out_of_range", "message": "high"}
            answer = (
                new_id(),
                to_json(
                    {"prediction": "setosa", "probabilities": {"setosa": 0.98, "virginica": 0.02}}
                ),
                to_json([warning]),
            )
            log.record(
                model="iris",
                version="2",
                inputs=[{"sepal_length": 9.9, "when": datetime(2026, 1, 2, tzinfo=UTC)}],
                answers=[answer],
                latency_ms=1.25,
                user_id=None,
            )
            await log.stop()
            async with database.session() as session:
                record = await get_prediction(session, prediction_id=answer[0])
            assert record is not None
            assert (record.model, record.version, record.latency_ms) == ("iris", "2", 1.25)
            assert record.inputs == {"sepal_length": 9.9, "when": "2026-01-02T00:00:00Z"}
            assert record.output == {
                "prediction": "setosa",
                "probabilities": {"setosa": 0.98, "virginica": 0.02},
            }
            assert record.warnings == [warning]
            created = record.created_at.replace(tzinfo=record.created_at.tzinfo or UTC)
            assert abs((datetime.now(UTC) - created).total_seconds()) < 60

    asyncio.run(main())


def test_stopping_writes_every_row_once(database_url: str) -> None:
    async def main() -> None:
        async with Database(database_url) as database:
            await database.prepare()
            log = new_log(database, batch_size=50)
            await log.start()
            before = written(), failed()
            for _ in range(30):
                predict(log, 7)
                await asyncio.sleep(0)  # the writer may be mid-batch when stop() comes
            await log.stop()
            assert await logged_count(database) == 210
            assert (written(), failed()) == (before[0] + 210, before[1])

    asyncio.run(main())


def test_a_failed_write_is_counted_and_the_next_one_succeeds(database_url: str) -> None:
    async def rename(database: Database, old: str, new: str) -> None:
        async with database.engine.begin() as connection:
            await connection.exec_driver_sql(f"ALTER TABLE {old} RENAME TO {new}")

    async def main() -> None:
        async with Database(database_url) as database:
            await database.prepare()
            log = new_log(database)
            predict(log, 3)
            await log.flush()  # the writer's connection, kept on SQLite, has written before
            await rename(database, "predictions", "predictions_away")
            before = failed()
            predict(log, 5)
            await log.flush()
            assert failed() == before + 5
            await rename(database, "predictions_away", "predictions")
            predict(log, 4)
            await log.stop()
            assert await logged_count(database) == 7
            assert failed() == before + 5

    asyncio.run(main())


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_connections_the_server_dropped_are_replaced(database_url: str) -> None:
    async def main() -> None:
        async with Database(database_url) as database:
            await database.prepare()
            log = new_log(database)
            predict(log, 3)
            await log.flush()
            async with database.engine.connect() as connection:
                # As a restart of the server or an idle timeout would: every other connection goes.
                await connection.exec_driver_sql(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            before = failed()
            predict(log, 4)
            await log.stop()
            assert await logged_count(database) == 7
            assert failed() == before

    asyncio.run(main())


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_keeps_times_in_the_text_sqlalchemy_writes(database_url: str) -> None:
    database = Database(database_url)
    dialect = database.engine.dialect
    column = PredictionRecord.__table__.c.created_at.type
    sqlalchemys = column.dialect_impl(dialect).bind_processor(dialect)
    assert sqlalchemys is not None
    writer = row_writer(database)
    for _ in range(1000):
        text = writer.stamp()
        assert isinstance(text, str)
        time = datetime.fromisoformat(text).replace(tzinfo=UTC)
        assert sqlalchemys(time) == text
        assert abs((datetime.now(UTC) - time).total_seconds()) < 5


def request(rows: int) -> dict[str, Any]:
    """What one request of ``rows`` rows records."""
    return {
        "model": "iris",
        "version": "1",
        "inputs": [{"x": float(i)} for i in range(rows)],
        "answers": [(new_id(), b'{"prediction":"a"}', b"[]") for _ in range(rows)],
        "latency_ms": 1.0,
        "user_id": None,
    }


def logged_ids(database: Database) -> Any:
    async def read() -> set[str]:
        async with database.session() as session:
            return set((await session.execute(select(PredictionRecord.id))).scalars())

    return read()


def test_beyond_max_pending_the_oldest_requests_are_dropped_and_counted(tmp_path: Path) -> None:
    dropped = (
        REGISTRY.get_sample_value("servekit_prediction_log_rows_total", {"outcome": "dropped"})
        or 0.0
    )

    async def main() -> tuple[set[str], list[str]]:
        async with Database(f"sqlite+aiosqlite:///{tmp_path / 'log.db'}") as database:
            await database.prepare()
            log = new_log(database, max_pending=5, flush_interval=60, batch_size=1000)
            requests = [request(rows) for rows in (2, 3, 2)]  # 7 rows: the first request goes
            for r in requests:
                log.record(**r)
            await log.stop()
            kept = [a[0] for r in requests[1:] for a in r["answers"]]
            return await logged_ids(database), kept

    written, kept = asyncio.run(main())
    assert written == set(kept)
    after = REGISTRY.get_sample_value("servekit_prediction_log_rows_total", {"outcome": "dropped"})
    assert after == dropped + 2


def test_sampling_keeps_about_its_share_of_rows(tmp_path: Path) -> None:
    async def main() -> int:
        async with Database(f"sqlite+aiosqlite:///{tmp_path / 'log.db'}") as database:
            await database.prepare()
            log = new_log(database, sample_rate=0.25)
            for _ in range(200):
                log.record(**request(5))
            await log.stop()
            return len(await logged_ids(database))

    written = asyncio.run(main())
    assert 100 < written < 400  # of 1,000 rows; a wrong rate (0 or 1) is far outside


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_writes_a_batch_of_several_statements_whole_or_not_at_all(
    database_url: str,
) -> None:
    # A batch wider than one statement's parameters is several INSERTs in one transaction.
    def rows(ids: list[str], writer: Any) -> list[Any]:
        return [(i, "iris", "1", "{}", "{}", "[]", 1.0, None, writer.stamp()) for i in ids]

    async def main() -> tuple[set[str], set[str]]:
        async with Database(database_url) as database:
            await database.prepare()
            writer = row_writer(database)
            writer.chunk = 4  # type: ignore[attr-defined]
            first = [new_id() for _ in range(10)]
            await writer.write(rows(first, writer))
            after_first = await logged_ids(database)
            # The third statement repeats a key: the two before it must not stay.
            with pytest.raises(Exception, match="UNIQUE"):
                await writer.write(rows([new_id() for _ in range(8)] + first[:1], writer))
            await writer.close()
            return after_first, await logged_ids(database)

    after_first, after_second = asyncio.run(main())
    assert after_first == after_second
    assert len(after_first) == 10


def test_rows_the_database_refuses_fail_alone_and_the_rest_of_the_batch_is_written(
    database_url: str,
) -> None:
    async def main() -> None:
        async with Database(database_url) as database:
            await database.prepare()
            log = new_log(database, batch_size=1000)
            before = failed()
            good = predict(log, 40)
            predict(log, 1, user_id=999_999)  # no such user: the foreign key refuses it
            good += predict(log, 30)
            predict(log, 1, user_id=2**70)  # beyond any integer column
            good += predict(log, 29)
            await log.flush()
            assert failed() == before + 2
            assert await logged_count(database) == 99
            async with database.session() as session:
                for prediction_id in (good[0], good[45], good[-1]):
                    assert await get_prediction(session, prediction_id=prediction_id) is not None
            await log.stop()

    asyncio.run(main())
