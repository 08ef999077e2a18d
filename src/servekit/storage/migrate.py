"""Schema migrations with Alembic, configured in code (no alembic.ini to ship or find)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    """Alembic's configuration for the database at ``url``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head() -> str:
    """The newest migration this servekit ships."""
    revision = ScriptDirectory.from_config(alembic_config("")).get_current_head()
    assert revision is not None
    return revision


def current(connection: Connection) -> str | None:
    """The migration the database is at (None when it has never been migrated)."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (blocking: it runs its own event loop)."""
    command.upgrade(alembic_config(url), revision)
