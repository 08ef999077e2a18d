"""The snapshot read from a real registry with known observations, and workers' parts added in."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from servekit.monitoring.metrics import BATCH_BUCKETS, LATENCY_BUCKETS
from servekit.monitoring.snapshot import (
    Processes,
    WorkerPart,
    merged,
    read_snapshot,
    read_worker_part,
)

IRIS = ("iris", "1")
TAXI = ("taxifare", "1")


def server_registry() -> CollectorRegistry:
    """A registry with the server's metrics (same names, labels and buckets) and known values."""
    registry = CollectorRegistry()
    requests = Counter("api_requests_total", "", ["method", "path", "status"], registry=registry)
    latency = Histogram(
        "api_request_latency_seconds", "", ["method", "path"], buckets=LATENCY_BUCKETS,
        registry=registry,
    )  # fmt: skip
    predict = "/models/iris/predict"
    requests.labels("POST", predict, "200").inc(5)
    requests.labels("POST", predict, "422").inc(2)
    requests.labels("POST", predict, "503").inc(1)
    requests.labels("GET", "/models/{name}/predict", "404").inc(1)
    requests.labels("GET", "/metrics", "200").inc(40)  # scrapes and polls are not traffic
    requests.labels("GET", "/monitor/snapshot", "200").inc(30)
    for seconds in (0.002, 0.02, 0.02, 3.0, 20.0):
        latency.labels("POST", predict).observe(seconds)
    latency.labels("GET", "/models/{name}").observe(0.001)  # model info: not a prediction
    latency.labels("GET", "/healthz").observe(0.001)

    labels = ["model", "version"]
    Counter("servekit_predictions_total", "", labels, registry=registry).labels(*IRIS).inc(7)
    ood = Counter(
        "servekit_ood_warnings_total", "", [*labels, "feature", "kind"], registry=registry
    )
    ood.labels(*IRIS, "petal_width", "range").inc(2)
    ood.labels(*IRIS, "sepal_width", "range").inc(1)
    rejected = Counter("servekit_ood_rejected_rows_total", "", labels, registry=registry)
    rejected.labels(*IRIS).inc(1)
    batch = Histogram("servekit_batch_size", "", labels, buckets=BATCH_BUCKETS, registry=registry)
    for rows in (1, 3, 3, 600):
        batch.labels(*IRIS).observe(rows)
    inference = Histogram(
        "servekit_inference_seconds", "", labels, buckets=LATENCY_BUCKETS, registry=registry
    )
    inference.labels(*IRIS).observe(0.004)
    Gauge("servekit_queue_depth", "", labels, registry=registry).labels(*IRIS).set(12)
    feedback = Counter("servekit_feedback_total", "", [*labels, "outcome"], registry=registry)
    feedback.labels(*IRIS, "correct").inc(3)
    feedback.labels(*IRIS, "wrong").inc(1)
    feedback.labels(*IRIS, "unlabelled").inc(4)
    accuracy = Gauge("servekit_feedback_accuracy", "", labels, registry=registry)
    accuracy.labels(*IRIS).set(0.75)
    Gauge("servekit_feedback_mean_absolute_error", "", labels, registry=registry).labels(*TAXI).set(
        2.5
    )
    return registry


def test_a_registry_reads_as_requests_latency_and_every_model() -> None:
    snapshot = read_snapshot(server_registry(), [IRIS, TAXI], now=123.5, distributed=False)

    assert snapshot.time == 123.5
    assert snapshot.requests.model_dump() == {"total": 9, "errors": 1, "client_errors": 3}
    # Only the prediction routes' latency; the last bound is 10 s, so 20 s is in the count only.
    latency = snapshot.latency
    assert latency.buckets == list(LATENCY_BUCKETS)
    assert latency.count == 5
    assert latency.sum == 0.002 + 0.02 + 0.02 + 3.0 + 20.0
    by_bound = dict(zip(latency.buckets, latency.counts, strict=True))
    assert (by_bound[0.001], by_bound[0.0025], by_bound[0.025], by_bound[2.5]) == (0, 1, 3, 3)
    assert (by_bound[5.0], by_bound[10.0]) == (4, 4)

    iris, taxi = snapshot.models
    assert (iris.name, iris.version, taxi.name, taxi.version) == (*IRIS, *TAXI)
    assert (iris.predictions, iris.ood_warnings, iris.ood_rejected) == (7, 3, 1)
    assert iris.batch.counts == [1, 1, 3, 3, 3, 3, 3, 3, 3, 3]
    assert (iris.batch.count, iris.batch.sum) == (4, 607)
    assert (iris.inference.count, iris.inference.counts[2]) == (1, 1)
    assert iris.queue_depth == 12
    assert iris.feedback.model_dump() == {"right": 3, "wrong": 1, "accuracy": 0.75, "mae": None}
    # A model with no traffic yet is listed, with empty histograms to draw.
    assert (taxi.predictions, taxi.batch.count, taxi.batch.counts) == (0, 0, [0] * 10)
    assert taxi.feedback.model_dump() == {"right": 0, "wrong": 0, "accuracy": None, "mae": 2.5}
    assert snapshot.workers is None


def test_distributed_queue_depth_is_the_jobs_waiting_for_a_worker() -> None:
    registry = CollectorRegistry()
    jobs = Gauge("servekit_queue_jobs", "", ["model", "version", "state"], registry=registry)
    jobs.labels(*IRIS, "waiting").set(4)
    jobs.labels(*IRIS, "pending").set(2)  # taken by a worker, being run

    snapshot = read_snapshot(registry, [IRIS], now=0.0, distributed=True)

    assert snapshot.models[0].queue_depth == 4
    assert snapshot.workers == 0


def worker_registry(rows: list[int]) -> CollectorRegistry:
    registry = CollectorRegistry()
    batch = Histogram(
        "servekit_batch_size", "", ["model", "version"], buckets=BATCH_BUCKETS, registry=registry
    )
    for n in rows:
        batch.labels(*IRIS).observe(n)
    return registry


def test_workers_parts_add_their_batches_and_processes() -> None:
    api = read_snapshot(server_registry(), [IRIS, TAXI], now=1.0, distributed=True)
    parts = [
        read_worker_part(worker_registry([2, 2]), [IRIS], now=1.0),
        read_worker_part(worker_registry([16]), [IRIS, ("gone", "3")], now=1.0),
    ]
    # A part goes through Redis as JSON.
    parts = [WorkerPart.model_validate_json(p.model_dump_json()) for p in parts]
    for p in parts:
        p.processes = Processes(count=1, cpu_seconds=1.5, memory_bytes=100.0)
    api.processes = Processes(count=1, cpu_seconds=2.0, memory_bytes=1000.0)

    snapshot = merged(api, parts)

    iris = snapshot.models[0]
    assert (iris.batch.count, iris.batch.sum) == (4 + 3, 607 + 20)
    assert iris.batch.counts == [1, 3, 5, 5, 6, 6, 6, 6, 6, 6]
    assert iris.predictions == 7  # counted by the API, not the workers
    assert snapshot.models[1].batch.count == 0
    assert snapshot.processes.model_dump() == {
        "count": 3,
        "cpu_seconds": 5.0,
        "memory_bytes": 1200.0,
    }
    assert snapshot.workers == 2
    # The API's own snapshot is left as it was.
    assert (api.models[0].batch.count, api.processes.count, api.workers) == (4, 1, 0)
