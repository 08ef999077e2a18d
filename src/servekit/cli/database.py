"""``servekit db``: the database's schema."""

from __future__ import annotations

from pathlib import Path

import typer

from servekit.cli.common import console, database_url
from servekit.cli.common import fail as _fail

db_app = typer.Typer(help="The database's schema.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the schema migrations to the database ($DATABASE_URL, or SQLite in the data folder)."""
    from sqlalchemy.engine import make_url

    from servekit.storage import migrate

    url = database_url(must_exist=False)
    if url.startswith("sqlite"):
        Path(make_url(url).database or ".").parent.mkdir(parents=True, exist_ok=True)
    try:
        migrate.upgrade(url)
    except Exception as exc:  # a driver's own error: show it, not a traceback
        raise _fail(
            f"cannot migrate {make_url(url).render_as_string(hide_password=True)}: {exc}"
        ) from None
    console.print(f"database at migration {migrate.head()}")


@db_app.command("current")
def db_current() -> None:
    """Say which migration the database is at, and which this servekit needs."""
    import asyncio

    from servekit.storage import migrate
    from servekit.storage.db import Database

    url = database_url()

    async def read() -> str | None:
        async with Database(url) as database, database.engine.connect() as connection:
            return await connection.run_sync(migrate.current)

    try:
        revision = asyncio.run(read())
    except Exception as exc:
        raise _fail(f"cannot read the database: {exc}") from None
    console.print(f"database at {revision or 'no migration'}; this servekit needs {migrate.head()}")
