"""``servekit serve`` and ``servekit worker``."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from servekit.cli.common import fail as _fail
from servekit.config import Settings
from servekit.exceptions import ServekitError


def _exit_after_sigterm(signum: int, frame: FrameType | None) -> None:
    """Exit 0 on SIGTERM.

    uvicorn shuts down gracefully on SIGTERM, then raises the signal again with the handler it
    found; without this one, that second SIGTERM would kill the process after a clean shutdown.
    """
    raise SystemExit(0)


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
    from servekit.memory import limit_heaps
    from servekit.monitoring.logging import configure_logging
    from servekit.server import run

    limit_heaps()  # first: before any thread starts (each worker process does its own)

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
