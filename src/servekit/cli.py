"""The ``servekit`` command line: serve, package, predict, examples."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from servekit.config import Settings
from servekit.exceptions import ServekitError

app = typer.Typer(help="servekit: serve machine-learning models over HTTP.", no_args_is_help=True)
examples_app = typer.Typer(help="The bundled example models.", no_args_is_help=True)
app.add_typer(examples_app, name="examples")
db_app = typer.Typer(help="The database's schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
users_app = typer.Typer(
    help="Accounts (there is no default account: create the first admin here).",
    no_args_is_help=True,
)
app.add_typer(users_app, name="users")
err = Console(stderr=True)
console = Console()


def _fail(message: str, code: int = 2) -> typer.Exit:
    # soft_wrap: a long path stays whole on one line, even when stderr is not a terminal.
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _exit_after_sigterm(signum: int, frame: FrameType | None) -> None:
    """Exit 0 on SIGTERM.

    uvicorn shuts down gracefully on SIGTERM, then raises the signal again with the handler it
    found; without this one, that second SIGTERM would kill the process after a clean shutdown.
    """
    raise SystemExit(0)


@app.command()
def serve(
    models: Annotated[Path | None, typer.Option(help="Model repository folder.")] = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[
        int | None, typer.Option(help="Port (default: $SERVEKIT_PORT, $PORT, 8000).")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Server processes (metrics are summed over them).")
    ] = None,
    allow_anonymous: Annotated[
        bool | None,
        typer.Option(
            "--allow-anonymous",
            help="Let predictions be made without a token or key (a public demo).",
        ),
    ] = None,
    batching: Annotated[
        bool | None,
        typer.Option(
            "--batching/--no-batching", help="Gather concurrent requests into shared model calls."
        ),
    ] = None,
) -> None:
    """Serve every model in the repository."""
    from servekit.app import create_app
    from servekit.monitoring.logging import configure_logging
    from servekit.server import run

    given: dict[str, Any] = {
        "model_repository": models,
        "host": host,
        "port": port,
        "workers": workers,
        "batching": batching,
        "allow_anonymous": allow_anonymous,
    }
    overrides = {k: v for k, v in given.items() if v is not None}
    # Worker processes read their settings from the environment: the options must reach them too.
    for key, value in overrides.items():
        os.environ[f"SERVEKIT_{key.upper()}"] = str(value)
    settings = Settings(**overrides)
    configure_logging(settings.log)
    try:
        # Built here even with several workers: a bad manifest stops start-up before any process starts.
        application = create_app(settings)
    except ServekitError as exc:
        raise _fail(str(exc)) from None
    try:
        # NOTE: once, here: several workers creating the schema of an empty database at once would race.
        asyncio.run(_prepare_database(application))
    except ServekitError as exc:
        raise _fail(str(exc)) from None
    signal.signal(signal.SIGTERM, _exit_after_sigterm)
    run(settings, application)


@app.command()
def worker(
    models: Annotated[Path | None, typer.Option(help="Model repository folder.")] = None,
    model: Annotated[
        list[str] | None,
        typer.Option("--model", help="Serve only this model (repeat for several; default: all)."),
    ] = None,
    redis_url: Annotated[
        str | None, typer.Option(help="Redis to take jobs from (default: $SERVEKIT_REDIS_URL).")
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(help="Port of this worker's Prometheus /metrics (default: none)."),
    ] = None,
) -> None:
    """Take prediction jobs from Redis and run them in batches (distributed mode)."""
    from servekit.monitoring.logging import configure_logging
    from servekit.queue.process import run_worker

    given: dict[str, Any] = {"model_repository": models, "redis_url": redis_url}
    settings = Settings(**{k: v for k, v in given.items() if v is not None})
    configure_logging(settings.log)
    try:
        asyncio.run(run_worker(settings, model, metrics_port))
    except ServekitError as exc:
        raise _fail(str(exc)) from None


async def _prepare_database(application: Any) -> None:
    database = application.state.database
    try:
        await database.prepare()
    finally:
        await database.close()


def _read_table(path: Path) -> Any:
    import pandas as pd

    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix in (".csv", ".txt"):
        return pd.read_csv(path)
    raise _fail(f"{path}: training data must be .csv or .parquet")


@app.command()
def package(
    model: Annotated[
        Path, typer.Option(help="Fitted model: .joblib/.pkl (scikit-learn) or .onnx.")
    ],
    data: Annotated[
        Path, typer.Option(help="Training data (.csv or .parquet), one column per feature.")
    ],
    name: Annotated[str, typer.Option(help="Model name (lowercase, as in URLs).")],
    out: Annotated[Path, typer.Option(help="Folder to write.")],
    version: Annotated[str, typer.Option(help="Model version.")] = "1",
    target: Annotated[
        str | None, typer.Option(help="Column of the data to drop (the label).")
    ] = None,
    task: Annotated[
        str | None, typer.Option(help="classification or regression (inferred).")
    ] = None,
    labels: Annotated[str | None, typer.Option(help="Comma-separated class labels (ONNX).")] = None,
    description: Annotated[str, typer.Option(help="One line about the model.")] = "",
    overwrite: Annotated[bool, typer.Option(help="Replace a non-empty folder.")] = False,
) -> None:
    """Write a model folder (artifact, manifest, schema, training statistics) from a fitted model."""
    import joblib

    from servekit.repository.package import package_model

    frame = _read_table(data)
    if target is not None:
        if target not in frame.columns:
            raise _fail(f"{data} has no column {target!r}")
        frame = frame.drop(columns=[target])
    runtime = "onnx" if model.suffix == ".onnx" else "sklearn"
    fitted: Any = model if runtime == "onnx" else joblib.load(model)
    try:
        folder = package_model(
            fitted,
            frame,
            out,
            name=name,
            version=version,
            runtime=runtime,
            task=task,
            labels=labels.split(",") if labels else None,
            description=description,
            overwrite=overwrite,
        )
    except FileExistsError:
        raise _fail(f"{out} is not empty (pass --overwrite to replace it)") from None
    except (ServekitError, ValueError) as exc:
        raise _fail(str(exc)) from None
    console.print(
        f"wrote {folder.path} ({folder.manifest.key}, {len(folder.manifest.inputs)} features)"
    )


def _rows(data: str | None, fields: list[str]) -> Any:
    if data is not None:
        text = (
            sys.stdin.read()
            if data == "-"
            else Path(data[1:]).read_text()
            if data.startswith("@")
            else data
        )
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise _fail(f"--data is not valid JSON: {exc}") from None
    row: dict[str, Any] = {}
    for field in fields:
        key, sep, value = field.partition("=")
        if not sep:
            raise _fail(f"--field takes name=value, got {field!r}")
        try:
            row[key] = json.loads(value)
        except json.JSONDecodeError:
            row[key] = value
    return row


@app.command()
def predict(
    model: Annotated[str, typer.Argument(help="Model name.")],
    data: Annotated[str | None, typer.Option(help="JSON body, @file, or - for stdin.")] = None,
    field: Annotated[
        list[str], typer.Option("--field", "-f", help="name=value (repeatable).")
    ] = [],  # noqa: B006
    version: Annotated[str | None, typer.Option(help="Pin a version.")] = None,
    url: Annotated[
        str, typer.Option(envvar="SERVEKIT_URL", help="Server address.")
    ] = "http://127.0.0.1:8000",
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw JSON answer.")] = False,
) -> None:
    """Ask a running server for predictions."""
    import httpx

    body = _rows(data, field)
    path = f"/models/{model}/versions/{version}/predict" if version else f"/models/{model}/predict"
    try:
        response = httpx.post(url.rstrip("/") + path, json=body, timeout=30)
    except httpx.HTTPError as exc:
        raise _fail(f"cannot reach {url}: {exc}") from None
    try:
        answer = response.json()
    except ValueError:
        # A proxy's error page, or not a servekit server at all: say so instead of a traceback.
        raise _fail(f"{url} answered {response.status_code} without JSON", code=1) from None
    if response.status_code != 200:
        message = answer.get("message", answer) if isinstance(answer, dict) else answer
        raise _fail(f"{response.status_code}: {message}", code=1)
    if as_json:
        console.print_json(data=answer)
        return
    table = Table(title=f"{answer['model']} {answer['version']}")
    for column in ("#", "prediction", "probabilities", "warnings"):
        table.add_column(column)
    for i, row in enumerate(answer["predictions"]):
        probs = row.get("probabilities") or {}
        shown = ", ".join(f"{k}: {v:.3f}" for k, v in probs.items())
        table.add_row(
            str(i), str(row["prediction"]), shown, "\n".join(w["message"] for w in row["warnings"])
        )
    console.print(table)


@examples_app.command("train")
def examples_train(
    out: Annotated[Path, typer.Option(help="Model repository to write into.")] = Path("models"),
    names: Annotated[
        list[str] | None, typer.Argument(help="Examples to train (default: all).")
    ] = None,
) -> None:
    """Train the bundled examples (iris, taxifare) into model folders."""
    from servekit.examples import train_examples

    try:
        folders = train_examples(out, names)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    for folder in folders:
        console.print(f"trained {folder.manifest.key} -> {folder.path}")


def _database_url() -> str:
    from servekit.storage.db import async_url, default_url

    settings = Settings()
    return async_url(settings.database_url or default_url(settings.data_dir))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the schema migrations to the database ($DATABASE_URL, or SQLite in the data folder)."""
    from sqlalchemy.engine import make_url

    from servekit.storage import migrate

    url = _database_url()
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

    async def read() -> str | None:
        async with Database(_database_url()) as database, database.engine.connect() as connection:
            return await connection.run_sync(migrate.current)

    try:
        revision = asyncio.run(read())
    except Exception as exc:
        raise _fail(f"cannot read the database: {exc}") from None
    console.print(f"database at {revision or 'no migration'}; this servekit needs {migrate.head()}")


def _with_session(work: Any) -> Any:
    """Run ``work(session)`` on the configured database, created first when empty."""
    from servekit.storage.db import Database

    async def run() -> Any:
        async with Database(_database_url()) as database:
            await database.prepare()
            async with database.session() as session:
                return await work(session)

    try:
        return asyncio.run(run())
    except ServekitError as exc:
        raise _fail(str(exc)) from None


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="The user's email, used to log in.")],
    name: Annotated[str, typer.Option(help="The user's name.")],
    admin: Annotated[bool, typer.Option("--admin", help="Give the admin role.")] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
) -> None:
    """Create an account; the password is asked for (never given on the command line)."""
    from pydantic import TypeAdapter, ValidationError
    from pydantic.networks import EmailStr

    from servekit.auth.names import name_problem, normalize_email
    from servekit.auth.passwords import check_strength, hash_password
    from servekit.storage.users import create_user

    try:
        email = TypeAdapter(EmailStr).validate_python(normalize_email(email))
    except ValidationError:
        raise _fail(f"{email!r} is not a valid email address") from None
    if (problem := name_problem(name)) is not None:
        raise _fail(problem)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        check_strength(password, email=email, name=name)
    except ServekitError as exc:
        raise _fail(str(exc)) from None
    password_hash = hash_password(password)
    user = _with_session(
        lambda s: create_user(
            s,
            email=email,
            name=name,
            password_hash=password_hash,
            role="admin" if admin else "user",
        )
    )
    console.print(f"created {user.role} {user.email} (id {user.id})")


@users_app.command("list")
def users_list() -> None:
    """List every account."""
    from servekit.storage.users import list_users

    table = Table("id", "email", "name", "role", "created")
    for user in _with_session(list_users):
        table.add_row(
            str(user.id),
            user.email,
            user.name,
            user.role,
            user.created_at.isoformat(timespec="seconds"),
        )
    console.print(table)


@users_app.command("delete")
def users_delete(
    email: Annotated[str, typer.Argument(help="The email of the account to delete.")],
) -> None:
    """Delete an account: its tokens and keys stop working, its feedback goes."""
    from servekit.auth.names import normalize_email
    from servekit.storage.users import delete_user, get_user_by_email

    email = normalize_email(email)

    async def work(session: Any) -> int | None:
        user = await get_user_by_email(session, email=email)
        if user is None or not await delete_user(session, user_id=user.id):
            return None
        await _announce_revocation(user.id)
        return user.id

    if _with_session(work) is None:
        raise _fail(f"no user with email {email}", code=1)
    console.print(f"deleted {email}")


async def _announce_revocation(user_id: int) -> None:
    # Servers cache a token's check for a moment (auth.access_cache_s); with Redis they hear of
    # the deletion at once.
    settings = Settings()
    if settings.redis_url is None:
        return
    from servekit.auth.revocation import AccessCache, Revocations
    from servekit.queue.connection import connect

    redis = connect(settings.redis_url)
    try:
        cache = AccessCache(None, 0)  # type: ignore[arg-type]  # nothing is read through it
        await Revocations(cache, redis, f"{settings.queue.prefix}:revocations").user(user_id)
    finally:
        await redis.aclose()


def main() -> None:
    """Entry point of the ``servekit`` script."""
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()
