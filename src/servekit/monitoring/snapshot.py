"""The monitor's snapshot: this server's own metrics as plain numbers, read from a registry.

A browser polls it and differences successive snapshots for rates and percentiles, so every
count is cumulative, as in Prometheus: a count that goes down is a reset (a process or a worker
gone), to be read as a counter reset is.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence

from prometheus_client import CollectorRegistry
from pydantic import BaseModel, Field

from servekit.monitoring.metrics import BATCH_BUCKETS, LATENCY_BUCKETS

UNCOUNTED_PATHS = frozenset({"/metrics", "/monitor/snapshot"})
"""Routes left out of the request counts: scrapes and polls are not traffic."""

Labels = dict[str, str]
ModelKey = tuple[str, str]


def is_prediction_path(path: str) -> bool:
    """A prediction route's template: ``/models/{name}/predict``, pinned versions included."""
    return path.startswith("/models/") and path.endswith("/predict")


class Histogram(BaseModel):
    """A histogram as Prometheus keeps it, without its infinite bucket (JSON has no infinity)."""

    buckets: list[float] = Field(description="Upper bounds of the buckets, ascending")
    counts: list[int] = Field(
        description="Cumulative: observations at or under each bound (as Prometheus's `le`)"
    )
    sum: float = Field(description="Sum of every observation")
    count: int = Field(description="Every observation, those above the last bound included")

    @classmethod
    def empty(cls, bounds: Sequence[float]) -> Histogram:
        """No observation yet."""
        return cls(buckets=list(bounds), counts=[0] * len(bounds), sum=0.0, count=0)

    def plus(self, other: Histogram) -> Histogram:
        """Both together; ``other`` is left out if its buckets differ (a worker of another version)."""
        if other.buckets != self.buckets:
            return self
        return Histogram(
            buckets=self.buckets,
            counts=[a + b for a, b in zip(self.counts, other.counts, strict=True)],
            sum=self.sum + other.sum,
            count=self.count + other.count,
        )


class Requests(BaseModel):
    """HTTP requests answered, the monitor's own polls and /metrics scrapes left out."""

    total: int
    errors: int = Field(description="Answered 5xx")
    client_errors: int = Field(description="Answered 4xx")


class FeedbackStats(BaseModel):
    """Feedback on a model version's predictions."""

    right: int = Field(description="Feedback received saying the prediction was right")
    wrong: int = Field(description="Feedback received saying the prediction was wrong")
    accuracy: float | None = Field(
        description="Share of the labelled feedback in the database that agrees with the "
        "prediction (a user's latest word on a prediction counts once); null before any"
    )
    mae: float | None = Field(
        description="Mean absolute error from the true values feedback gave; null before any"
    )


class ModelStats(BaseModel):
    """One served model version; listed before its first request too."""

    name: str
    version: str
    predictions: int = Field(description="Rows predicted")
    ood_warnings: int = Field(description="Out-of-distribution findings")
    ood_rejected: int = Field(description="Rows refused as out of distribution")
    batch: Histogram = Field(description="Rows per model call")
    inference: Histogram = Field(description="Seconds of one model call")
    queue_depth: float = Field(
        description="Rows waiting for a model call; in distributed mode, jobs waiting in Redis "
        "for a worker (a job holds up to one batch of a request's rows)"
    )
    feedback: FeedbackStats


class Processes(BaseModel):
    """CPU and memory of the processes that serve: the API's, and the live workers'."""

    count: int
    cpu_seconds: float = Field(description="CPU time used, summed (cumulative)")
    memory_bytes: float = Field(description="Resident memory, summed")


class Snapshot(BaseModel):
    """The server's metrics now, summed over its processes and its live workers."""

    time: float = Field(description="When it was read, Unix seconds")
    requests: Requests
    latency: Histogram = Field(description="Seconds per request to the prediction routes")
    models: list[ModelStats]
    processes: Processes
    workers: int | None = Field(
        description="Live `servekit worker` processes in distributed mode; null in-process"
    )


class WorkerModel(BaseModel):
    """What a worker measured of one model version it serves."""

    name: str
    version: str
    batch: Histogram
    inference: Histogram


class WorkerPart(BaseModel):
    """What one ``servekit worker`` publishes for the snapshot (its model calls are its own)."""

    time: float
    models: list[WorkerModel]
    processes: Processes


class Samples:
    """A registry's samples by name, collected once, with the sums a snapshot needs."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._by_name: dict[str, list[tuple[Labels, float]]] = defaultdict(list)
        for family in registry.collect():
            for sample in family.samples:
                self._by_name[sample.name].append((sample.labels, sample.value))

    def matching(self, name: str, match: Callable[[Labels], bool]) -> list[tuple[Labels, float]]:
        """The samples of ``name`` whose labels ``match``."""
        return [(labels, value) for labels, value in self._by_name.get(name, ()) if match(labels)]

    def total(self, name: str, **labels: str) -> float:
        """Sum of the samples of ``name`` that have these label values (any others)."""
        items = labels.items()
        return sum(v for _, v in self.matching(name, lambda found: items <= found.items()))

    def value(self, name: str, **labels: str) -> float | None:
        """The one sample of ``name`` with these label values, or None (a gauge never set)."""
        items = labels.items()
        found = self.matching(name, lambda f: items <= f.items())
        return found[0][1] if found and math.isfinite(found[0][1]) else None

    def histogram(
        self, name: str, bounds: Sequence[float], match: Callable[[Labels], bool]
    ) -> Histogram:
        """The series of histogram ``name`` whose labels ``match``, summed."""
        index = {float(b): i for i, b in enumerate(bounds)}
        counts = [0.0] * len(bounds)
        for labels, value in self.matching(f"{name}_bucket", match):
            i = index.get(float(labels.get("le", "nan")))
            if i is not None:
                counts[i] += value
        return Histogram(
            buckets=list(bounds),
            counts=[round(c) for c in counts],
            sum=sum(v for _, v in self.matching(f"{name}_sum", match)),
            count=round(sum(v for _, v in self.matching(f"{name}_count", match))),
        )

    def processes(self) -> Processes:
        """This registry's processes: one without a ``pid`` label, or one per ``pid``."""
        return Processes(
            count=len(self._by_name.get("process_resident_memory_bytes", ())),
            cpu_seconds=self.total("process_cpu_seconds_total"),
            memory_bytes=self.total("process_resident_memory_bytes"),
        )


def _of(model: ModelKey) -> Callable[[Labels], bool]:
    name, version = model
    return lambda labels: labels.get("model") == name and labels.get("version") == version


def _model(samples: Samples, key: ModelKey) -> ModelStats:
    name, version = key
    labels = {"model": name, "version": version}
    of = _of(key)
    return ModelStats(
        name=name,
        version=version,
        predictions=round(samples.total("servekit_predictions_total", **labels)),
        ood_warnings=round(samples.total("servekit_ood_warnings_total", **labels)),
        ood_rejected=round(samples.total("servekit_ood_rejected_rows_total", **labels)),
        batch=samples.histogram("servekit_batch_size", BATCH_BUCKETS, of),
        inference=samples.histogram("servekit_inference_seconds", LATENCY_BUCKETS, of),
        # In-process, the batcher's rows; in distributed mode, the stream's waiting jobs.
        queue_depth=samples.total("servekit_queue_depth", **labels)
        + samples.total("servekit_queue_jobs", **labels, state="waiting"),
        feedback=FeedbackStats(
            right=round(samples.total("servekit_feedback_total", **labels, outcome="correct")),
            wrong=round(samples.total("servekit_feedback_total", **labels, outcome="wrong")),
            accuracy=samples.value("servekit_feedback_accuracy", **labels),
            mae=samples.value("servekit_feedback_mean_absolute_error", **labels),
        ),
    )


def _requests(samples: Samples) -> Requests:
    counted = samples.matching(
        "api_requests_total", lambda labels: labels.get("path") not in UNCOUNTED_PATHS
    )
    by_class: dict[str, float] = defaultdict(float)
    for labels, value in counted:
        by_class[labels.get("status", "")[:1]] += value
    return Requests(
        total=round(sum(by_class.values())),
        errors=round(by_class["5"]),
        client_errors=round(by_class["4"]),
    )


def read_snapshot(
    registry: CollectorRegistry, models: Iterable[ModelKey], *, now: float, distributed: bool
) -> Snapshot:
    """The snapshot of an API server's registry, with every model in ``models`` listed."""
    samples = Samples(registry)
    return Snapshot(
        time=now,
        requests=_requests(samples),
        latency=samples.histogram(
            "api_request_latency_seconds",
            LATENCY_BUCKETS,
            lambda labels: is_prediction_path(labels.get("path", "")),
        ),
        models=[_model(samples, key) for key in models],
        processes=samples.processes(),
        workers=0 if distributed else None,
    )


def read_worker_part(
    registry: CollectorRegistry, models: Iterable[ModelKey], *, now: float
) -> WorkerPart:
    """What a worker publishes: its model calls and its process, from its own registry."""
    samples = Samples(registry)
    return WorkerPart(
        time=now,
        models=[
            WorkerModel(
                name=key[0],
                version=key[1],
                batch=samples.histogram("servekit_batch_size", BATCH_BUCKETS, _of(key)),
                inference=samples.histogram(
                    "servekit_inference_seconds", LATENCY_BUCKETS, _of(key)
                ),
            )
            for key in models
        ],
        processes=samples.processes(),
    )


def merged(snapshot: Snapshot, parts: Sequence[WorkerPart]) -> Snapshot:
    """The API's snapshot with the live workers' parts added in (models no API serves left out)."""
    models = {(m.name, m.version): m.model_copy() for m in snapshot.models}
    processes = snapshot.processes.model_copy()
    for part in parts:
        for wm in part.models:
            model = models.get((wm.name, wm.version))
            if model is not None:
                model.batch = model.batch.plus(wm.batch)
                model.inference = model.inference.plus(wm.inference)
        processes.count += part.processes.count
        processes.cpu_seconds += part.processes.cpu_seconds
        processes.memory_bytes += part.processes.memory_bytes
    return snapshot.model_copy(
        update={
            "models": list(models.values()),
            "processes": processes,
            "workers": (snapshot.workers or 0) + len(parts),
        }
    )
