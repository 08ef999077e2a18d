"""The database: its URL (DATABASE_URL, else ./bank.db), async drivers, and migrations."""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config

DEFAULT_URL = "sqlite:///bank.db"
"""SQLite, in a file bank.db of the working directory."""
ALEMBIC_INI = Path(__file__).resolve().parents[1] / "alembic.ini"
_DRIVERS = {
    "postgresql://": "postgresql+asyncpg://",
    "postgres://": "postgresql+asyncpg://",
    "sqlite:///": "sqlite+aiosqlite:///",
}


def database_url() -> str:
    """The URL the app uses: DATABASE_URL when set, else SQLite in ./bank.db."""
    return async_url(os.environ.get("DATABASE_URL") or DEFAULT_URL)


def async_url(url: str) -> str:
    """The URL with an async driver (asyncpg or aiosqlite) when it names none."""
    for plain, driver in _DRIVERS.items():
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


def migrate(url: str) -> None:
    """Apply the migrations up to the newest (blocking: Alembic runs its own event loop)."""
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("sqlalchemy.url", async_url(url).replace("%", "%%"))
    command.upgrade(config, "head")
