"""Prometheus metrics, declared once for the process (prometheus_client's own habit)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# From 1 ms to 10 s, dense enough around the usual p50/p95/p99 of a model API.
LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.075,
    0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)  # fmt: skip

BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
"""Rows per model call."""

# The seeds' names, so that their PromQL works as written.
REQUESTS = Counter(
    "api_requests_total",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "path", "status"],
)
REQUEST_LATENCY = Histogram(
    "api_request_latency_seconds",
    "Time from request received to response sent, by method and route template.",
    ["method", "path"],
    buckets=LATENCY_BUCKETS,
)

PREDICTIONS = Counter(
    "servekit_predictions_total",
    "Rows predicted (a batch of 50 rows counts 50), by model and version.",
    ["model", "version"],
)
INFERENCE_SECONDS = Histogram(
    "servekit_inference_seconds",
    "Time spent in one model call (one batch), by model and version.",
    ["model", "version"],
    buckets=LATENCY_BUCKETS,
)
OOD_WARNINGS = Counter(
    "servekit_ood_warnings_total",
    "Out-of-distribution findings on predicted or refused rows, by model, version, feature and kind.",
    ["model", "version", "feature", "kind"],
)
OOD_REJECTED_ROWS = Counter(
    "servekit_ood_rejected_rows_total",
    "Rows refused because the model's policy rejects out-of-distribution input.",
    ["model", "version"],
)

BATCH_SIZE = Histogram(
    "servekit_batch_size",
    "Rows per model call, by model and version.",
    ["model", "version"],
    buckets=BATCH_BUCKETS,
)
QUEUE_DEPTH = Gauge(
    "servekit_queue_depth",
    "Rows waiting for a model call, by model and version.",
    ["model", "version"],
    multiprocess_mode="livesum",
)
QUEUE_WAIT_SECONDS = Histogram(
    "servekit_queue_wait_seconds",
    "Time a row waited in the queue before its model call, by model and version.",
    ["model", "version"],
    buckets=LATENCY_BUCKETS,
)
REJECTION_REASONS = ("queue_full", "deadline", "disconnect", "shutdown", "unavailable", "no_worker")
REJECTIONS = Counter(
    "servekit_rejections_total",
    "Requests refused or dropped before an answer: queue_full (503), deadline (504), "
    "disconnect (client gone), shutdown (503), unavailable (the Redis job queue is down: 503).",
    ["model", "version", "reason"],
)

PREDICTION_LOG = Counter(
    "servekit_prediction_log_rows_total",
    "Predicted rows by what became of their log entry: written, failed (database error), dropped (too many pending).",
    ["outcome"],
)
PREDICTION_LOG_PRUNED = Counter(
    "servekit_prediction_log_pruned_rows_total",
    "Logged predictions deleted by retention (older than its age, or beyond its row count).",
)
FEEDBACK = Counter(
    "servekit_feedback_total",
    "Feedback received on predictions, by model, version and whether the prediction was right.",
    ["model", "version", "outcome"],
)
FEEDBACK_MAE = Gauge(
    "servekit_feedback_mean_absolute_error",
    "Mean absolute error of regression predictions, from the true values feedback gave.",
    ["model", "version"],
    multiprocess_mode="mostrecent",
)
FEEDBACK_ACCURACY = Gauge(
    "servekit_feedback_accuracy",
    "Share of labelled feedback that agrees with the prediction, over all feedback in the database.",
    ["model", "version"],
    multiprocess_mode="mostrecent",
)

# Distributed mode: the API's view of the Redis queue.
REDIS_UP = Gauge(
    "servekit_redis_up",
    "1 while this API process reaches the Redis job queue, 0 while it does not.",
    multiprocess_mode="livemin",
)
QUEUE_JOBS = Gauge(
    "servekit_queue_jobs",
    "Jobs in a model's Redis stream: waiting (not yet taken by a worker) and pending (taken, not yet done).",
    ["model", "version", "state"],
    multiprocess_mode="mostrecent",
)
RESULTS_DROPPED = Counter(
    "servekit_queue_results_dropped_total",
    "Results that arrived for no waiting request (late, duplicate, or its caller gone), dropped by job id.",
)

# Distributed mode: a worker's own metrics.
WORKER_JOB_OUTCOMES = ("done", "failed", "dead_lettered", "expired")
WORKER_JOBS = Counter(
    "servekit_worker_jobs_total",
    "Jobs a worker ended, by model, version and outcome: done, failed (left for another delivery), "
    "dead_lettered (failed every delivery), expired (deadline passed before it ran; skipped).",
    ["model", "version", "outcome"],
)
WORKER_RECLAIMED = Counter(
    "servekit_worker_reclaimed_total",
    "Jobs a worker took over from another that stopped answering (or that failed before).",
    ["model", "version"],
)
