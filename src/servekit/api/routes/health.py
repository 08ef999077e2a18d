"""Status, liveness and readiness."""

from __future__ import annotations

import contextlib
import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from servekit import __version__
from servekit.api.deps import DatabaseDep, QueueDep, ServedDep
from servekit.api.routes.models import summaries
from servekit.api.schemas import Status
from servekit.queue.connection import UNAVAILABLE

router = APIRouter(tags=["health"])


@router.get("/", response_model=Status)
async def status(served: ServedDep, queue: QueueDep, request: Request) -> Status:
    """The service, its version, its models and its uptime."""
    return Status(
        service=served.service_name,
        version=__version__,
        uptime_seconds=round(time.monotonic() - served.started, 3),
        ready=served.ready and (queue is None or queue.available),
        anonymous_predictions=request.app.state.credentials.allow_anonymous,
        models=summaries(served),
    )


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Not ready yet"}})
async def readyz(served: ServedDep, database: DatabaseDep, queue: QueueDep) -> JSONResponse:
    """Readiness: every model is loaded, the database answers, and so does Redis in distributed mode."""
    pending = [s.manifest.key for s in served.all() if not s.loaded]
    database_ok = await database.ping()
    body: dict[str, object] = {"database": "ok" if database_ok else "unreachable"}
    queue_ok = True
    if queue is not None:
        queue_ok = queue.available
        body["queue"] = "ok" if queue_ok else "unreachable"
        if queue_ok:
            with contextlib.suppress(*UNAVAILABLE):
                body["workers"] = await queue.workers()
                # Said, not required: the API itself is ready, and answers 503 for these at once.
                body["models_without_worker"] = [
                    s.manifest.key
                    for s in served.all()
                    if not await queue.has_worker(s.manifest.name, s.manifest.version)
                ]
    if pending or not database_ok or not queue_ok:
        return JSONResponse({"status": "not ready", "loading": pending, **body}, status_code=503)
    return JSONResponse(
        {"status": "ready", "models": [s.manifest.key for s in served.all()], **body}
    )
