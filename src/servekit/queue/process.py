"""The ``servekit worker`` process: load the models, expose metrics, work until SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from concurrent.futures import ThreadPoolExecutor

from prometheus_client import start_http_server

from servekit.config import Settings
from servekit.exceptions import ConfigurationError, ModelNotFound
from servekit.queue.connection import connect
from servekit.queue.worker import Worker
from servekit.repository.loader import Repository
from servekit.runtimes.registry import runtime_class
from servekit.serving.executor import ModelCall
from servekit.serving.registry import load

log = logging.getLogger("servekit.worker")


async def run_worker(
    settings: Settings, only: list[str] | None = None, metrics_port: int | None = None
) -> None:
    """Serve the models named in ``only`` (every model by default) from Redis until SIGTERM.

    The first SIGTERM (or Ctrl-C) finishes the batches in hand, acknowledges them and returns;
    a second one exits at once.
    """
    if not settings.redis_url:
        raise ConfigurationError(
            "a worker takes its jobs from Redis: set SERVEKIT_REDIS_URL (or pass --redis-url)"
        )
    repository = Repository.scan(settings.model_repository)
    folders = repository.all()
    if only:
        served = {f.manifest.name for f in folders}
        unknown = sorted(set(only) - served)
        if unknown:
            raise ModelNotFound(
                f"no model named {', '.join(unknown)} in {settings.model_repository}; "
                f"it has: {', '.join(sorted(served))}"
            )
        folders = [f for f in folders if f.manifest.name in only]
    pool = ThreadPoolExecutor(
        settings.limits.inference_threads, thread_name_prefix="servekit-model"
    )
    calls = []
    for folder in folders:
        runtime = runtime_class(folder.manifest.runtime)(folder)
        await load(runtime)
        calls.append(ModelCall(runtime, pool))
    if metrics_port is not None:
        server, _ = start_http_server(metrics_port, addr=settings.host)
        log.info("worker metrics on http://%s:%d/metrics", settings.host, server.server_port)
    redis = connect(settings.redis_url)
    worker = Worker(redis, settings.redis_url, settings.queue, calls)
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if worker.stopping.is_set():
            log.warning("second signal: exiting now")
            os._exit(1)
        log.info("stopping: finishing the batches in hand")
        worker.stopping.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal)
    try:
        await worker.run()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        await redis.aclose()
        pool.shutdown(wait=True)
