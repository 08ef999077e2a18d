"""Building the FastAPI application: ``create_app(settings)``; nothing happens at import time."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import Depends, FastAPI
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from servekit import __version__
from servekit.api.credentials import Credentials
from servekit.api.errors import install_error_handlers
from servekit.api.express import ExpressLane
from servekit.api.media import checked_media_type
from servekit.api.openapi import document_refusals
from servekit.api.routes import auth as auth_routes
from servekit.api.routes import feedback, health, keys, models, monitor, predictions, users
from servekit.api.routes.docs import docs_router
from servekit.api.routes.entities import entities_router
from servekit.api.routes.predict import LeanRoute, model_routes
from servekit.api.shedding import STATE_KEY as SHEDDER
from servekit.api.shedding import Gate, Shedder
from servekit.auth.bootstrap import ensure_admin, first_admin
from servekit.auth.ratelimit import AttemptStore, LoginGuard
from servekit.auth.redis_attempts import RedisAttempts
from servekit.auth.revocation import AccessCache, Revocations, channel
from servekit.auth.secret import token_secret
from servekit.auth.tokens import TokenService
from servekit.auth.work import PasswordWork
from servekit.config import Settings
from servekit.executors import distributed, in_process
from servekit.monitoring.exposition import Exposition
from servekit.monitoring.middleware import MonitoringMiddleware, RequestRecorder
from servekit.queue.client import JobQueue
from servekit.serving.registry import ServedModels
from servekit.storage.attempts import DatabaseAttempts
from servekit.storage.db import Database, default_url
from servekit.storage.predictions import PredictionLog
from servekit.storage.retention import LogRetention
from servekit.storage.uploads import UploadStore
from servekit.ui.routes import install_ui


class ServekitApp(FastAPI):
    """FastAPI, with the express lane for predictions in front of its whole middleware stack."""

    express: dict[str, LeanRoute]
    recorder: RequestRecorder
    max_body_bytes: int

    def openapi(self) -> dict[str, Any]:
        """FastAPI's document, with the refusals every operation can give by its shape."""
        if self.openapi_schema is None:
            document_refusals(super().openapi())
        return super().openapi()

    def build_middleware_stack(self) -> ASGIApp:
        """FastAPI's stack, behind the express lane."""
        return ExpressLane(
            super().build_middleware_stack(),
            routes=self.express,
            handlers=self.exception_handlers,
            recorder=self.recorder,
            max_body_bytes=self.max_body_bytes,
        )


GC_THRESHOLDS = (700, 10, 1000)
"""The collector's thresholds once the app has started (Python's are 700, 10, 10)."""


def shedder_for(app: FastAPI) -> Shedder:
    """The Shedder of the app's prediction routes: each path with its model's admission check."""
    assert isinstance(app, ServekitApp)
    gates: dict[int, Gate] = {}  # one per executor: a model's paths share it
    return Shedder(
        {
            r.path.encode(): gates.setdefault(
                id(r.service.executor), Gate(r.service.executor.admit)
            )
            for r in app.express.values()
        }
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    """Read every manifest (a bad one raises here, naming file and field) and build the app.

    Models are loaded when the app starts (its lifespan), off the event loop.
    """
    settings = settings or Settings()
    queue = JobQueue(settings.redis_url, settings.queue) if settings.redis_url else None
    uploads = UploadStore(
        settings.data_dir / "uploads",
        max_total_bytes=settings.uploads.max_total_bytes,
        max_age_s=None
        if settings.uploads.retention_days is None
        else settings.uploads.retention_days * 86_400,
        interval_s=settings.uploads.prune_interval_s,
    )
    served = ServedModels.build(
        settings,
        in_process(settings) if queue is None else distributed(queue),
        in_process=queue is None,
        uploads=uploads,
    )
    database = Database(settings.database_url or default_url(settings.data_dir))
    auth = settings.auth
    secret = token_secret(
        auth.jwt_secret, production=settings.environment == "production", data_dir=settings.data_dir
    )
    admin = first_admin(settings.bootstrap_admin)
    plog = settings.prediction_log
    prediction_log = (
        PredictionLog(
            database,
            sample_rate=plog.sample_rate,
            batch_size=plog.batch_size,
            flush_interval=plog.flush_interval_s,
            max_pending=plog.max_pending,
        )
        if plog.enabled
        else None
    )
    retention = LogRetention(
        database,
        max_age_s=None if plog.retention_days is None else plog.retention_days * 86_400,
        max_rows=plog.max_rows,
        interval_s=plog.prune_interval_s,
    )
    tokens = TokenService(
        secret, auth.jwt_issuer, auth.jwt_audience, timedelta(minutes=auth.token_minutes)
    )
    exposition = Exposition()
    # Distributed mode: the login limits and revocations are shared through the queue's Redis
    # (its client, which the queue closes when it stops).
    shared = queue.redis if queue is not None else None
    access = AccessCache(database, auth.access_cache_s)
    revocations = Revocations(access, shared, channel(settings.queue.prefix))
    attempts: AttemptStore = (
        DatabaseAttempts(database)
        if shared is None
        else RedisAttempts(shared, settings.queue.prefix)
    )

    async def metrics(request: Request) -> Response:
        """Prometheus exposition: this process's metrics, or the sum over the server's processes."""
        await served.observe()
        return Response(exposition.render(), media_type=CONTENT_TYPE_LATEST)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        try:
            await database.prepare()
            if admin is not None:
                await ensure_admin(database, admin)
            if queue is not None:
                await queue.start()
            await uploads.start()
            await served.start()
            await revocations.start()
            if prediction_log is not None:
                await prediction_log.start()
            await retention.start()
            async with database.session() as session:
                await feedback.refresh_accuracy(session)  # the gauge is live from the first scrape
            # NOTE: what start-up built (models, modules, tables) lives as long as the process: out
            # of the collector's sight, full collections no longer walk it for 0.1 s at a time,
            # several times a second under load (p99 150 -> 15 ms on iris at 64 clients).
            gc.collect()
            gc.freeze()
            # NOTE: full collections walk every live object, and thousands of open connections
            # are many: at 3,200 clients they stalled the loop for tens of ms at a time (accepted
            # p99 84 -> 40-57 ms on iris). They run a hundred times less often; younger
            # generations, which collect most of what requests leave, as often as before.
            gc.set_threshold(*GC_THRESHOLDS)
            # The lifespan state is the server's too: its connections refuse with the Shedder.
            yield {SHEDDER: shedder_for(app)}
            await revocations.stop()  # before the queue closes the Redis client it listens on
            await served.stop(settings.shutdown_grace_s)
            if queue is not None:
                await queue.stop()
            await uploads.stop()
            await retention.stop()
            if prediction_log is not None:
                await prediction_log.stop()
        finally:
            await revocations.stop()
            # Also when start-up fails: no pooled connection is left behind.
            await database.close()
            exposition.process_exited()

    app = ServekitApp(
        title=settings.service_name,
        version=__version__,
        description="Machine-learning models served by servekit. Each model has its own section below.",
        lifespan=lifespan,
        # Served by docs_router below, from the app's own files rather than a CDN.
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(checked_media_type)],
        telemetry=None
        if settings.opentelemetry
        else {"tracing": False, "metrics": False, "logs": False, "auto_configure": False},
    )
    app.state.settings = settings
    app.state.served = served
    app.state.queue = queue
    app.state.uploads = uploads
    app.state.database = database
    app.state.tokens = tokens
    app.state.prediction_log = prediction_log
    app.state.credentials = Credentials(tokens, access, settings.allow_anonymous)
    app.state.revocations = revocations
    app.state.snapshot_reader = monitor.SnapshotReader(exposition, served, database, queue)
    app.state.login_guard = LoginGuard(attempts, auth, secret)
    app.state.password_work = PasswordWork(
        concurrent=auth.password_checks, waiting=auth.password_queue
    )
    install_error_handlers(app)
    # NOTE: the prediction routes go straight onto the app's router, first: an included router is
    # matched layer by layer on every request, a measurable share of a prediction's time.
    predict_routes = model_routes(served, prediction_log, uploads).routes
    app.router.routes.extend(predict_routes)
    app.include_router(health.router)
    app.include_router(models.router)
    app.include_router(auth_routes.router)
    app.include_router(users.router)
    app.include_router(keys.router)
    app.include_router(feedback.router)
    app.include_router(predictions.router)
    app.include_router(entities_router(served, prediction_log))
    app.include_router(monitor.router)
    app.include_router(docs_router(title=app.title, openapi_url=app.openapi_url or "/openapi.json"))
    # An API route, so that its requests are counted under "/metrics" (a plain route leaves no template).
    app.add_api_route("/metrics", metrics, include_in_schema=False)
    install_ui(app)
    # Predictions take the express lane, in front of everything below; it records them itself.
    app.express = {
        r.path: r
        for r in predict_routes
        if isinstance(r, LeanRoute) and "POST" in (r.methods or ())
    }
    app.recorder = RequestRecorder()
    app.max_body_bytes = settings.limits.max_body_bytes
    app.add_middleware(
        MonitoringMiddleware, max_body_bytes=app.max_body_bytes, recorder=app.recorder
    )
    return app
