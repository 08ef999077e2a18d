"""Every model version this server serves, built from the repository and loaded at start-up."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import anyio
import anyio.to_thread

from servekit.config import Settings
from servekit.exceptions import ModelLoadError
from servekit.inputs.base import InputCodec
from servekit.inputs.registry import codec_for
from servekit.repository.loader import Repository
from servekit.repository.manifest import Manifest
from servekit.runtimes.base import Runtime
from servekit.runtimes.registry import runtime_class
from servekit.serving.executor import Executor, ModelCall
from servekit.serving.service import ModelService
from servekit.storage.uploads import UploadStore

log = logging.getLogger("servekit.serving")


ExecutorFactory = Callable[[Manifest, ModelCall, InputCodec], Executor]
"""Makes each model's executor: in-process, or the job queue's (the app chooses which)."""


def max_request_rows(manifest: Manifest, server_limit: int) -> int:
    """Most rows (or files) one request may carry: the manifest's own limit, within the server's."""
    own = manifest.batching.max_request_rows
    return server_limit if own is None else min(own, server_limit)


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
        *,
        in_process: bool = True,
    ) -> None:
        self.repository = repository
        self.services = services
        self.service_name = service_name
        self.pool = pool
        self.in_process = in_process
        """Whether models run in this process (else workers load them; this one needs the manifests)."""
        self.started = time.monotonic()

    @classmethod
    def build(
        cls,
        settings: Settings,
        executors: ExecutorFactory,
        *,
        in_process: bool = True,
        uploads: UploadStore | None = None,
    ) -> ServedModels:
        """Read every manifest and pick each runtime, codec and executor; nothing is loaded yet."""
        repository = Repository.scan(settings.model_repository)
        pool = ThreadPoolExecutor(
            settings.limits.inference_threads, thread_name_prefix="servekit-model"
        )
        services: dict[str, dict[str, ModelService]] = {}
        for folder in repository.all():
            m = folder.manifest
            runtime = runtime_class(m.runtime)(folder)
            codec = codec_for(
                m, max_rows=max_request_rows(m, settings.limits.max_batch_rows), uploads=uploads
            )
            executor = executors(m, ModelCall(runtime, pool), codec)
            services.setdefault(m.name, {})[m.version] = ModelService(
                folder, runtime, executor, codec
            )
        return cls(repository, services, settings.service_name, pool, in_process=in_process)

    def get(self, name: str, version: str | None = None) -> ModelService:
        """A model's given version, or its latest; ModelNotFound names what is served instead."""
        folder = self.repository.get(name, version)
        return self.services[folder.manifest.name][folder.manifest.version]

    def all(self) -> list[ModelService]:
        """Every service, by name then version (latest last)."""
        return [s for name in self.services for s in self.services[name].values()]

    @property
    def ready(self) -> bool:
        """True once every model is loaded."""
        return all(s.loaded for s in self.all())

    async def start(self) -> None:
        """Load every model off the event loop, then start its executor.

        The first model that fails to load stops start-up with its name.
        """
        for service in self.all():
            if self.in_process:
                await load(service.runtime)
            # In distributed mode the workers load the models; this server needs only the manifests.
            service.loaded = True
            await service.executor.start()

    async def observe(self) -> None:
        """Refresh the gauges each executor reads with I/O (the queue's depth in Redis)."""
        for service in self.all():
            await service.executor.observe()

    async def stop(self, grace: float) -> None:
        """Let every executor finish its accepted rows within ``grace`` seconds, then free the threads."""
        for service in self.all():
            await service.executor.stop(grace)
        self.pool.shutdown(wait=False, cancel_futures=True)
