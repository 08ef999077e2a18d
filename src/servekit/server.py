"""Running the app under uvicorn: one process or several, shut down gracefully, then at once."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from types import FrameType

import uvicorn
from fastapi import FastAPI
from uvicorn.supervisors import Multiprocess

from servekit.app import create_app
from servekit.config import Settings
from servekit.http_protocol import HttpConfig
from servekit.memory import limit_heaps
from servekit.monitoring.exposition import prepare_multiprocess_dir
from servekit.monitoring.logging import configure_logging

APP_FACTORY = "servekit.server:app_from_env"
FORCED_EXIT = 1
"""Exit status after a second signal cut the graceful shutdown short."""


class Server(uvicorn.Server):
    """uvicorn's server, where a second SIGTERM forces the exit as a second Ctrl+C does.

    The first signal stops accepting connections and lets requests in flight finish within the
    grace period; the second (an impatient orchestrator, an operator) exits at once.
    """

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """Record the signal; the second one forces the exit."""
        if self.should_exit:
            self.force_exit = True
        super().handle_exit(sig, frame)


class Supervisor(Multiprocess):
    """uvicorn's process supervisor, where a signal that comes while the workers drain kills them."""

    def join_all(self) -> None:
        """Wait for every worker's graceful exit, unless a second signal arrives first."""
        for worker in self.processes:
            while worker.process.is_alive():
                worker.process.join(0.1)
                if self.signal_queue:
                    for other in self.processes:
                        other.kill()
                    self.signal_queue.clear()


def app_from_env() -> FastAPI:
    """The app built from the environment: the factory each worker process calls."""
    limit_heaps()  # first: before any thread of this worker process starts
    settings = Settings()
    configure_logging(settings.log)
    return create_app(settings)


def _config(app: FastAPI | str, settings: Settings) -> uvicorn.Config:
    return HttpConfig(
        app,
        limits=settings.limits,
        host=settings.host,
        port=settings.port,
        factory=isinstance(app, str),
        workers=settings.workers,
        backlog=settings.limits.backlog,
        # The access log is our middleware's JSON line; uvicorn's own would say the same thing twice.
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=int(settings.shutdown_grace_s) or None,
        # NOTE: uvicorn trusts 127.0.0.1 by default (FORWARDED_ALLOW_IPS): an explicit list, so
        # that a client on this host cannot choose its address with X-Forwarded-For.
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=list(settings.trusted_proxies),
        # What serves the answers is nobody's business.
        server_header=False,
    )


def run(settings: Settings, app: FastAPI) -> None:
    """Serve ``app`` in this process, or with ``settings.workers > 1`` the same app in N processes.

    Worker processes build their own app from the environment, so the caller exports its settings.
    """
    if settings.workers == 1:
        server = Server(_config(app, settings))
        try:
            server.run()
        finally:
            if server.force_exit:
                # NOTE: a model call cannot be interrupted, and Python joins its thread at exit:
                # a forced exit must not wait for it.
                logging.shutdown()
                os._exit(FORCED_EXIT)
        return
    prepare_multiprocess_dir(
        settings.metrics_dir or Path(tempfile.mkdtemp(prefix="servekit-metrics-"))
    )
    config = _config(APP_FACTORY, settings)
    Supervisor(config, sockets=[config.bind_socket()]).run()
