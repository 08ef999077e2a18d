"""What every command shares: the consoles, failing with a message, and the database it uses."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from servekit.config import Settings
from servekit.exceptions import ServekitError

err = Console(stderr=True)
console = Console()


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``message`` as an error; the exit to raise."""
    # soft_wrap: a long path stays whole on one line, even when stderr is not a terminal.
    # NOTE: escaped: a message is text, and rich would take "[torch]" in it for markup and drop it.
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def invalid_options(exc: ValidationError) -> str:
    """A manifest section's validation errors, each named by the option that set the field."""
    said = []
    for error in exc.errors():
        message = error["msg"].removeprefix("Value error, ")
        field = str(error["loc"][-1]).replace("_", "-") if error["loc"] else None
        said.append(f"--{field}: {message}" if field else message)
    return "; ".join(said)


def database_url(*, must_exist: bool = True) -> str:
    """The database the settings name, said on stderr; a missing SQLite file fails with a message.

    NOTE: the default database is a file in the data folder, relative to where the command runs:
    run elsewhere, a command would silently make (or read) another database than the server's.
    """
    from sqlalchemy.engine import make_url

    from servekit.storage.db import async_url, default_url

    settings = Settings()
    url = async_url(settings.database_url or default_url(settings.data_dir))
    parsed = make_url(url)
    if url.startswith("sqlite") and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database or "")
        if not path.exists():
            if must_exist and settings.database_url:
                raise fail(f"no database at {path} (DATABASE_URL): `servekit db upgrade` makes it")
            if must_exist:
                raise fail(
                    f"no database at {path}. Without DATABASE_URL, servekit uses servekit.db in "
                    f"its data folder ({settings.data_dir}, from where it runs): run this command "
                    "where the server runs, or set SERVEKIT_DATA_DIR or DATABASE_URL as it has them"
                )
            err.print(f"database: a new one at {path}", highlight=False, soft_wrap=True)
            return url
    err.print(
        f"database: {parsed.render_as_string(hide_password=True)}", highlight=False, soft_wrap=True
    )
    return url


@contextmanager
def packaging_errors(out: Path) -> Iterator[None]:
    """A packaging step's failures as one-line command-line errors (exit code 2)."""
    try:
        yield
    except FileExistsError:
        raise fail(f"{out} is not empty (pass --overwrite to replace it)") from None
    except (ServekitError, ValueError, OSError) as exc:
        raise fail(str(exc)) from None
