"""Bulk inserts of prediction-log rows, through each database driver's own fast path."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import chain
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from servekit.exceptions import DatabaseError
from servekit.storage.db import Database
from servekit.storage.tables import PredictionRecord

LogRow = tuple[str, str, str, str, str, str, float, int | None, datetime | str]
"""One logged prediction: id, model, version; inputs, output, warnings (JSON text); latency_ms,
user_id, and created_at as the writer takes it (``RowWriter.stamp``).

A plain tuple of strings and numbers: the garbage collector stops tracking it, so rows waiting for
their write neither lengthen collections nor make them more frequent, as dicts of dicts do.
"""

TABLE = PredictionRecord.__tablename__
COLUMNS = (
    "id",
    "model",
    "version",
    "inputs",
    "output",
    "warnings",
    "latency_ms",
    "user_id",
    "created_at",
)


class RowWriter:
    """Writes batches of rows, one at a time; a failed write never reuses its connection."""

    keep_connection = False
    """Keep one connection between batches, rather than one from the pool for each."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._kept: AsyncConnection | None = None
        self._lock = asyncio.Lock()

    async def write(self, rows: Sequence[LogRow]) -> None:
        """Insert ``rows`` in one transaction."""
        async with self._lock:
            connection, self._kept = self._kept, None
            try:
                if connection is None:
                    connection = await self.database.engine.connect()
                raw = await connection.get_raw_connection()
                await self._insert(raw.driver_connection, rows)
            except Exception:
                if connection is not None:
                    # Whatever state it is in (a transaction half done, a dead socket), it goes.
                    with contextlib.suppress(Exception):
                        await connection.invalidate()
                    with contextlib.suppress(Exception):
                        await connection.close()
                raise
            if self.keep_connection:
                self._kept = connection
            else:
                await connection.close()

    def stamp(self) -> datetime | str:
        """Now, as this database takes a time (called once a request, not once a row)."""
        return datetime.now(UTC)

    async def close(self) -> None:
        """Close the kept connection, if any (after the write in progress)."""
        async with self._lock:
            connection, self._kept = self._kept, None
            if connection is not None:
                with contextlib.suppress(Exception):  # it is let go either way
                    await connection.close()

    async def _insert(self, driver: Any, rows: Sequence[LogRow]) -> None:
        raise NotImplementedError


def _max_parameters() -> int:
    """Parameters one SQLite statement may bind: 32,766 by default since SQLite 3.32, 999 before."""
    with contextlib.closing(sqlite3.connect(":memory:")) as connection:
        return connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)


class SqliteWriter(RowWriter):
    """SQLite (aiosqlite): a batch is one multi-row INSERT, when the library binds that many values.

    The INSERT and its COMMIT are two trips to the connection's thread for the whole batch (the
    driver begins a transaction before the INSERT). Each trip has that thread take the GIL from
    the event loop and hand a result back: few trips, not small statements.
    Not ``executemany``: it gives up and takes back the GIL for every row, and costs more.
    """

    # NOTE: the engine opens a new connection each time (a thread, the file, the pragmas): about
    # 1 ms, 2 us a row of a 500-row batch. There is no server to restart under a kept one.
    keep_connection = True

    STATEMENTS = 8
    """Distinct statements kept (by row count): a loaded server writes full batches."""

    def __init__(self, database: Database) -> None:
        super().__init__(database)
        self.chunk = max(1, _max_parameters() // len(COLUMNS))
        """Rows a statement."""
        self._statements: dict[int, str] = {}
        self._second = -1
        self._prefix = ""

    def stamp(self) -> str:
        """Now, in the text SQLAlchemy stores for a time on SQLite: UTC, to the microsecond, no offset."""
        # The date and time to the second change once a second: formatted then (a datetime's
        # conversions took 2 us, a good share of the log's cost for a one-row request).
        second, nanos = divmod(time.time_ns(), 1_000_000_000)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(second))
        return f"{self._prefix}.{nanos // 1000:06d}"

    async def _insert(self, driver: Any, rows: Sequence[LogRow]) -> None:
        # NOTE: the driver (sqlite3's default isolation) opens the transaction at the first INSERT.
        for start in range(0, len(rows), self.chunk):
            part = rows[start : start + self.chunk]
            await driver.execute(self._sql(len(part)), list(chain.from_iterable(part)))
        await driver.commit()

    def _sql(self, rows: int) -> str:
        if rows not in self._statements:
            if len(self._statements) >= self.STATEMENTS:
                self._statements.clear()
            row = f"({', '.join('?' * len(COLUMNS))})"
            self._statements[rows] = (
                f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES {', '.join([row] * rows)}"
            )
        return self._statements[rows]


class PostgresWriter(RowWriter):
    """PostgreSQL (asyncpg): the rows streamed by binary ``COPY``, one statement for the batch.

    A connection from the pool for each batch: its pre-ping replaces one the server dropped.
    """

    async def _insert(self, driver: Any, rows: Sequence[LogRow]) -> None:
        await driver.copy_records_to_table(TABLE, records=rows, columns=COLUMNS)


WRITERS: dict[str, type[RowWriter]] = {"aiosqlite": SqliteWriter, "asyncpg": PostgresWriter}


def row_writer(database: Database) -> RowWriter:
    """The writer for the database's driver."""
    driver = database.engine.dialect.driver
    if driver not in WRITERS:
        raise DatabaseError(
            f"the prediction log writes through aiosqlite or asyncpg, not {driver} "
            f"({database.safe_url}); use sqlite:// or postgresql://, or set "
            "SERVEKIT_PREDICTION_LOG__ENABLED=false"
        )
    return WRITERS[driver](database)
