"""Every model version this server serves, built from the repository and loaded at start-up."""

from __future__ import annotations

import logging
import time

import anyio
import anyio.to_thread

from servekit.config import Settings
from servekit.exceptions import ModelLoadError
from servekit.repository.loader import Repository
from servekit.runtimes.registry import runtime_class
from servekit.serving.executor import ThreadExecutor
from servekit.serving.service import ModelService

log = logging.getLogger("servekit.serving")


class ServedModels:
    """The services by name and version, and whether they are loaded."""

    def __init__(
        self,
        repository: Repository,
        services: dict[str, dict[str, ModelService]],
        service_name: str,
    ) -> None:
        self.repository = repository
        self.service_name = service_name
        self.services = services
        self.started = time.monotonic()

    @classmethod
    def build(cls, settings: Settings) -> ServedModels:
        """Read every manifest and pick each runtime; nothing is loaded yet."""
        repository = Repository.scan(settings.model_repository)
        limiter = anyio.CapacityLimiter(settings.limits.inference_threads)
        services: dict[str, dict[str, ModelService]] = {}
        for folder in repository.all():
            runtime = runtime_class(folder.manifest.runtime)(folder)
            executor = ThreadExecutor(runtime, limiter=limiter)
            services.setdefault(folder.manifest.name, {})[folder.manifest.version] = ModelService(
                folder, runtime, executor
            )
        return cls(repository, services, settings.service_name)

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

    async def load(self) -> None:
        """Load every model off the event loop; the first failure stops start-up with its model named."""
        for service in self.all():
            start = time.perf_counter()
            try:
                await anyio.to_thread.run_sync(service.setup)
            except Exception as exc:
                error = ModelLoadError(
                    f"{service.manifest.key} ({service.model.path}) failed to load: {exc!r}"
                )
                # One clear line before the server's traceback, so the cause is not buried.
                log.error("start-up refused: %s", error)
                raise error from exc
            log.info(
                "loaded %s",
                service.manifest.key,
                extra={"seconds": round(time.perf_counter() - start, 3)},
            )
