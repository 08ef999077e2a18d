"""The database: its URL, engine and sessions, and the start-up check of its migrations."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import anyio.to_thread
from pydantic_core import to_json
from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from servekit.exceptions import DatabaseError
from servekit.storage import migrate

log = logging.getLogger("servekit.storage")

_DRIVERS = {
    "postgres://": "postgresql+asyncpg://",
    "postgresql://": "postgresql+asyncpg://",
    "sqlite://": "sqlite+aiosqlite://",
}


def async_url(url: str) -> str:
    """The URL with an async driver (``postgresql://`` as Heroku-style tools write it works too)."""
    for plain, driver in _DRIVERS.items():
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


def default_url(data_dir: Path) -> str:
    """SQLite in the server's data folder."""
    return f"sqlite+aiosqlite:///{data_dir.resolve() / 'servekit.db'}"


def _json(value: Any) -> str:
    # pydantic-core's encoder, as the prediction log's own (storage/predictions.py): one JSON text.
    return to_json(value).decode()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # NOTE: SQLite ignores foreign keys (and their ON DELETE actions) unless each connection asks.
    cursor.execute("PRAGMA foreign_keys=ON")
    # Write-ahead log: readers do not block the prediction log's writer, and a commit is cheap
    # (NORMAL syncs at checkpoints; a power cut may lose the last commits, never corrupt the file).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _private_file(path: Path) -> None:
    """Create the SQLite file readable by its owner only (password hashes live in it).

    NOTE: created empty here, before SQLite opens it: SQLite gives a new file the umask's mode,
    and its -wal and -shm files take the mode of the database file.
    """
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            log.warning("%s can be read by other users of this machine: chmod 600 it", path)


def _state(connection: Connection) -> tuple[bool, str | None]:
    tables = set(inspect(connection).get_table_names()) - {"alembic_version"}
    return bool(tables), migrate.current(connection)


class Database:
    """One database for the server's users, keys, prediction log and feedback."""

    def __init__(self, url: str) -> None:
        self.url = async_url(url)
        if self.url.startswith("sqlite"):
            # A file: opening a connection is cheap, and none is left open behind an app's back.
            self.engine: AsyncEngine = create_async_engine(
                self.url, poolclass=NullPool, json_serializer=_json
            )
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        else:
            # NOTE: pre-ping, so that a connection the database dropped (restart, idle timeout) is replaced.
            self.engine = create_async_engine(self.url, pool_pre_ping=True, json_serializer=_json)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def safe_url(self) -> str:
        """The URL without its password, for messages and logs."""
        return self.engine.url.render_as_string(hide_password=True)

    async def prepare(self, *, create_empty: bool = True) -> None:
        """Check the schema: create it in an empty database, refuse one behind the migrations."""
        if self.url.startswith("sqlite") and self.engine.url.database not in (None, "", ":memory:"):
            _private_file(Path(self.engine.url.database or ""))
        try:
            async with self.engine.connect() as connection:
                has_tables, revision = await connection.run_sync(_state)
        except Exception as exc:
            raise DatabaseError(f"cannot reach the database at {self.safe_url}: {exc}") from exc
        head = migrate.head()
        if revision == head:
            return
        if not has_tables and revision is None and create_empty:
            log.info("creating the schema in the empty database %s", self.safe_url)
            await anyio.to_thread.run_sync(migrate.upgrade, self.url)
            return
        raise DatabaseError(
            f"the database at {self.safe_url} is at migration {revision or 'none'}, and this servekit "
            f"needs {head}: run `servekit db upgrade` first"
        )

    async def ping(self) -> bool:
        """True when the database answers a trivial query."""
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    def session(self) -> AsyncSession:
        """A new session (use it with ``async with``)."""
        return self.sessions()

    async def close(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
