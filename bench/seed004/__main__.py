"""``python -m bench.seed004 api | worker``: the seed's two services, one process each."""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
import uvicorn

from bench.seed004 import jobs
from bench.seed004.api import API_SLEEP_S, DEADLINE_S, ApiSettings, create_app

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)

RedisUrl = Annotated[str, typer.Option("--redis-url", help="The Redis of the job list.")]
Uploads = Annotated[
    Path, typer.Option("--uploads", help="The folder uploads are kept in, shared by both.")
]
Queue = Annotated[str, typer.Option("--queue", help="The Redis list the jobs go through.")]
SHUTDOWN_GRACE_S = 5
"""Seconds uvicorn lets requests under way finish after SIGTERM before it closes them."""


def _exit_quietly(signum: int, frame: FrameType | None) -> None:
    """Exit 0: uvicorn has shut down gracefully and raises the signal again with this handler.

    Without it, that second signal would kill the process (or raise KeyboardInterrupt) after a
    clean shutdown, and a supervisor would read a clean stop as a crash.
    """
    raise SystemExit(0)


@app.command()
def api(
    port: Annotated[int, typer.Option("--port")],
    redis_url: RedisUrl,
    uploads: Uploads,
    queue: Queue = jobs.DEFAULT_QUEUE,
    poll_s: Annotated[
        float, typer.Option("--poll-s", help="Seconds between looks for a result.")
    ] = API_SLEEP_S,
    deadline_s: Annotated[
        float, typer.Option("--deadline-s", help="Seconds before a 504.")
    ] = DEADLINE_S,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    blocking: Annotated[
        bool,
        typer.Option(
            "--blocking/--awaiting",
            help="As the seed's template: sync Redis calls and time.sleep that hold the event loop; or await them.",
        ),
    ] = False,
) -> None:
    """The API: one uvicorn process, logging warnings only (as the seed's compose runs it)."""
    settings = ApiSettings(
        redis_url=redis_url,
        uploads=uploads,
        queue=queue,
        poll_s=poll_s,
        deadline_s=deadline_s,
        blocking=blocking,
    )
    # uvicorn handles SIGTERM and SIGINT itself: it stops accepting, lets requests finish.
    signal.signal(signal.SIGTERM, _exit_quietly)
    signal.signal(signal.SIGINT, _exit_quietly)
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
    )


@app.command()
def worker(
    redis_url: RedisUrl,
    uploads: Uploads,
    model: Annotated[
        Path, typer.Option("--model", help="The model folder (with its servekit.yaml).")
    ],
    queue: Queue = jobs.DEFAULT_QUEUE,
    log_level: Annotated[
        str, typer.Option("--log-level", help="info logs each job served.")
    ] = "warning",
) -> None:
    """One model worker; start several for more (the seed's ``--scale model=N``)."""
    # NOTE: imported here, not at the top: the worker brings torch, which the API process has no
    # use for (seconds of start-up and about 280 MB it would hold for nothing).
    from bench.seed004.worker import WorkerSettings, run

    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    run(WorkerSettings(redis_url=redis_url, uploads=uploads, model=model, queue=queue))


if __name__ == "__main__":
    app()
