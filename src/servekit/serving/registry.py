"""Every model version this server serves, built from the repository and loaded at start-up."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor

import anyio
import anyio.to_thread

from servekit.batching.batcher import Batcher
from servekit.config import Settings
from servekit.exceptions import ModelLoadError
from servekit.queue.client import JobQueue, RedisExecutor
from servekit.repository.loader import ModelFolder, Repository
from servekit.runtimes.base import Runtime
from servekit.runtimes.registry import runtime_class
from servekit.serving.executor import DirectExecutor, Executor, ModelCall
from servekit.serving.service import ModelService

log = logging.getLogger("servekit.serving")


def _executor(
    folder: ModelFolder, call: ModelCall, settings: Settings, queue: JobQueue | None
) -> Executor:
    if queue is not None:
        return RedisExecutor(queue, folder.manifest)
    batching = folder.manifest.batching
    max_queue_rows = batching.max_queue_rows or settings.limits.max_queue_rows
    max_queue_wait_ms = batching.max_queue_wait_ms or settings.limits.max_queue_wait_ms
    if settings.batching:
        return Batcher(
            folder.manifest,
            call,
            max_queue_rows=max_queue_rows,
            max_queue_wait=max_queue_wait_ms / 1000,
            concurrency=batching.concurrency,
        )
    return DirectExecutor(call, max_queue_rows=max_queue_rows)


async def load(runtime: Runtime) -> None:
    """Load a model off the event loop; a failure raises ModelLoadError naming the model."""
    start = time.perf_counter()
    try:
        await anyio.to_thread.run_sync(runtime.setup)
    except Exception as exc:
        error = ModelLoadError(
            f"{runtime.manifest.key} ({runtime.model.path}) failed to load: {exc!r}"
        )
        # One clear line before the server's traceback, so the cause is not buried.
        log.error("start-up refused: %s", error)
        raise error from exc
    log.info(
        "loaded %s", runtime.manifest.key, extra={"seconds": round(time.perf_counter() - start, 3)}
    )


class ServedModels:
    """The services by name and version, and whether they are loaded."""

    def __init__(
        self,
        repository: Repository,
        services: dict[str, dict[str, ModelService]],
        service_name: str,
        pool: ThreadPoolExecutor,
        queue: JobQueue | None = None,
    ) -> None:
        self.repository = repository
        self.services = services
        self.service_name = service_name
        self.pool = pool
        self.queue = queue
        """The Redis job queue in distributed mode, else None."""
        self.started = time.monotonic()

    @classmethod
    def build(cls, settings: Settings) -> ServedModels:
        """Read every manifest and pick each runtime and executor; nothing is loaded yet."""
        repository = Repository.scan(settings.model_repository)
        pool = ThreadPoolExecutor(
            settings.limits.inference_threads, thread_name_prefix="servekit-model"
        )
        queue = JobQueue(settings.redis_url, settings.queue) if settings.redis_url else None
        services: dict[str, dict[str, ModelService]] = {}
        for folder in repository.all():
            runtime = runtime_class(folder.manifest.runtime)(folder)
            executor = _executor(folder, ModelCall(runtime, pool), settings, queue)
            services.setdefault(folder.manifest.name, {})[folder.manifest.version] = ModelService(
                folder, runtime, executor
            )
        return cls(repository, services, settings.service_name, pool, queue)

    def get(self, name: str, version: str | None = None) -> ModelService:
        """A model's given version, or its latest; ModelNotFound names what is served instead."""
        folder = self.repository.get(name, version)
        return self.services[folder.manifest.name][folder.manifest.version]

    def all(self) -> list[ModelService]:
        """Every service, by name then version (latest last)."""
        return [s for name in self.services for s in self.services[name].values()]

    @property
    def ready(self) -> bool:
        """True once every model is loaded (and, in distributed mode, while Redis answers)."""
        queue_ok = self.queue is None or self.queue.available
        return queue_ok and all(s.loaded for s in self.all())

    async def start(self) -> None:
        """Load every model off the event loop, then start its executor.

        The first model that fails to load stops start-up with its name.
        """
        if self.queue is not None:
            await self.queue.start()
        for service in self.all():
            if self.queue is None:
                await load(service.runtime)
            # In distributed mode the workers load the models; this server needs only the manifests.
            service.loaded = True
            await service.executor.start()

    async def observe_queues(self) -> None:
        """Refresh the Redis queue gauges of every model (distributed mode)."""
        for service in self.all():
            if isinstance(service.executor, RedisExecutor):
                await service.executor.observe()

    async def stop(self, grace: float) -> None:
        """Let every executor finish its accepted rows within ``grace`` seconds, then free the threads."""
        for service in self.all():
            await service.executor.stop(grace)
        if self.queue is not None:
            await self.queue.stop()
        self.pool.shutdown(wait=False, cancel_futures=True)
