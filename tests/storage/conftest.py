"""Every storage test runs on SQLite and on a real PostgreSQL (``DATABASE_URL``, or the local one)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from servekit.ids import new_id
from servekit.storage.db import async_url

POSTGRES = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


async def _admin(sql: str) -> None:
    engine = create_async_engine(async_url(POSTGRES), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(sql))
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A new, empty database: a SQLite file, or a database created on the PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'servekit.db'}"
        return
    name = f"servekit_test_{new_id()[:12]}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        shown = make_url(async_url(POSTGRES)).render_as_string(hide_password=True)
        pytest.fail(f"PostgreSQL is needed at {shown} (set DATABASE_URL to another one): {exc}")
    yield make_url(async_url(POSTGRES)).set(database=name).render_as_string(hide_password=False)
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
