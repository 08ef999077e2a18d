"""Settings: one root object read from the environment (prefix ``SERVEKIT_``) and ``.env``."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class LimitSettings(BaseModel):
    """Bounds on what one request may ask of the server."""

    max_body_bytes: int = Field(default=1_048_576, gt=0)
    """Largest request body accepted, counted on the bytes actually received (413 beyond)."""

    max_batch_rows: int = Field(default=1000, gt=0)
    """Most rows one request may carry in ``instances`` (a model's manifest may lower it)."""

    inference_threads: int = Field(default=4, gt=0)
    """Threads that run model code, so that it never blocks the event loop."""

    max_queue_rows: int = Field(default=2048, gt=0)
    """Rows one model may hold waiting; beyond, requests get 503 with Retry-After at once."""

    max_queue_wait_ms: float = Field(default=10.0, gt=0)
    """Longest a row should wait for its model call: each model's queue holds no more rows than
    the model was measured to clear in this time (at least one batch), so that under overload
    requests are refused at once rather than left to wait (a model's manifest may change it)."""

    request_timeout_s: float = Field(default=30.0, gt=0)
    """Deadline of a request; ``X-Request-Timeout`` (seconds) may shorten it, never lengthen it."""

    backlog: int = Field(default=4096, gt=0)
    """Connections the kernel may hold for the server before it accepts them (the system's
    ``net.core.somaxconn`` caps it): room for thousands of clients connecting at once, whose
    handshakes would otherwise be dropped and retried a second or more later."""

    max_header_bytes: int = Field(default=32_768, gt=0)
    """Largest request line and headers together; beyond, 431 and the connection is closed."""

    header_timeout_s: float = Field(default=10.0, gt=0)
    """Longest a request line and headers may take to arrive, from the connection or the
    request's first byte to the headers' end; beyond, 408 and the connection is closed."""

    body_timeout_s: float = Field(default=30.0, gt=0)
    """Longest a request body may take to arrive, from the end of its headers to its last byte
    (the time the server itself stops reading it is not counted); beyond, 408 and the
    connection is closed, and the app sees the client gone."""

    keep_alive_timeout_s: float = Field(default=5.0, gt=0)
    """How long an idle kept-alive connection waits for its next request before it is closed."""

    drain_bytes: int = Field(default=4_194_304, ge=0)
    """After an answer given before the whole body arrived (413) or a refusal (431, 408), how
    much more of the request is read and thrown away, so that a client still writing it gets
    the answer rather than a connection reset; beyond, the connection is closed."""

    drain_timeout_s: float = Field(default=5.0, gt=0)
    """How long that reading and throwing away may last."""


class AuthSettings(BaseModel):
    """Accounts, tokens and login."""

    jwt_secret: str | None = None
    """Signs access tokens (at least 32 characters); required in production, generated in development."""

    jwt_issuer: str = "servekit"
    """The ``iss`` of the tokens this server issues and accepts."""

    jwt_audience: str = "servekit-api"
    """The ``aud`` of the tokens this server issues and accepts."""

    token_minutes: int = Field(default=30, gt=0)
    """How long an access token is valid."""

    max_failed_logins_per_account: int = Field(default=5, gt=0)
    """Failed logins allowed in the window for one account from one client address (or from one
    device that signed in to it before); beyond, 429 with Retry-After."""

    max_failed_logins_per_address: int = Field(default=20, gt=0)
    """Failed logins allowed in the window from one client address, over all accounts."""

    max_failed_logins_per_account_total: int = Field(default=100, gt=0)
    """Failed logins allowed in the window for one account from all addresses together (guessing
    spread over many addresses). Devices that signed in to the account before are exempt."""

    failed_login_window_s: float = Field(default=300.0, gt=0)
    """The window, in seconds, over which failed logins are counted."""

    device_cookie_days: float = Field(default=30.0, gt=0)
    """How long the device cookie of a successful login lets its client past others' failures."""

    access_cache_s: float = Field(default=2.0, ge=0, le=60)
    """How long a prediction remembers that a token's user or an API key is live. Revocations
    reach the process that made them at once, every process at once through Redis, and other
    processes (``--workers N`` without Redis) within this time."""

    password_checks: int = Field(default=2, gt=0)
    """Password hashes computed at once (each holds 19 MiB for about 30 ms on a 2-core machine)."""

    password_queue: int = Field(default=16, ge=0)
    """Logins and registrations that may wait for a password check; beyond, 503 with Retry-After."""


class BootstrapAdminSettings(BaseModel):
    """The first admin, made at start-up when no user has its email (a container has no terminal
    for ``servekit users create``). An existing account is never changed."""

    email: str | None = None
    """Email of the admin to create; nothing is done while it is unset."""

    name: str = "Admin"
    """The admin's name."""

    password: SecretStr | None = None
    """The admin's password, under the rules every password follows; never logged."""

    password_file: Path | None = None
    """A file holding the password (a Docker or Kubernetes secret), in place of ``password``."""


class PredictionLogSettings(BaseModel):
    """The log of every prediction in the database."""

    enabled: bool = True
    """Keep a log of predictions (needed for feedback on them)."""

    sample_rate: float = Field(default=1.0, ge=0, le=1)
    """Share of predicted rows logged."""

    batch_size: int = Field(default=500, gt=0)
    """Rows written in one transaction; the writer wakes when this many wait."""

    flush_interval_s: float = Field(default=1.0, gt=0)
    """Longest a logged row waits in memory before it is written."""

    max_pending: int = Field(default=100_000, gt=0)
    """Rows that may wait in memory (the database slow or down); beyond, the oldest are dropped and counted."""

    retention_days: float | None = Field(default=30.0, gt=0)
    """Logged predictions older than this are deleted, with their feedback (unset: kept by age)."""

    max_rows: int | None = Field(default=10_000_000, gt=0)
    """At most this many logged predictions are kept, the newest (unset: no bound by count).

    About 380 bytes a row on disk: the default bounds the log near 4 GB whatever the traffic."""

    prune_interval_s: float = Field(default=300.0, gt=0)
    """How often retention runs (in the background, a few thousand rows per transaction)."""


class UploadSettings(BaseModel):
    """Uploaded images, kept once each by the SHA-256 of their content in ``<data_dir>/uploads``."""

    max_total_bytes: int = Field(default=1_073_741_824, gt=0)
    """The folder is pruned, oldest files first, to stay under this size (1 GiB)."""

    retention_days: float | None = Field(default=7.0, gt=0)
    """Files older than this are deleted (unset: kept by age); a new upload of one renews it."""

    prune_interval_s: float = Field(default=60.0, gt=0)
    """How often retention runs (in the background)."""


class QueueSettings(BaseModel):
    """Distributed mode: the Redis Streams job queue shared by API processes and ``servekit worker``."""

    prefix: str = Field(default="servekit", min_length=1)
    """Start of every Redis key servekit uses; API and workers of one deployment share it."""

    max_jobs: int = Field(default=10_000, gt=0)
    """Jobs one model's stream may hold (queued or running); beyond, 503 with Retry-After."""

    claim_after_s: float = Field(default=5.0, gt=0)
    """A job running this long without its worker's heartbeat is taken over by another worker.

    Keep it well under the request timeout, so that a reclaimed job can still meet its deadline."""

    max_deliveries: int = Field(default=3, gt=0)
    """Deliveries of a job that all failed before it goes to the dead-letter stream."""

    heartbeat_s: float = Field(default=1.0, gt=0)
    """How often a worker says it is alive and keeps the jobs it is running."""

    monitor_interval_s: float = Field(default=2.0, gt=0)
    """How often each worker publishes its own metrics (model calls, CPU, memory) to Redis for
    ``/monitor/snapshot``; each publication expires after three intervals, so a worker that
    stops drops out of the snapshot."""

    result_ttl_s: float = Field(default=60.0, gt=0)
    """How long results wait in Redis for an API process that has gone away."""

    dead_letter_max: int = Field(default=10_000, gt=0)
    """Entries kept in each dead-letter stream (the oldest are trimmed)."""


class LogSettings(BaseModel):
    """How the server writes its logs."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """Lowest level written."""

    json_lines: bool = True
    """One JSON object a line (for log shippers); false gives plain text for a terminal."""

    access: bool = True
    """One line per request (logger ``servekit.access``); off leaves requests to the metrics."""

    flush_interval_s: float = Field(default=0.2, gt=0, le=10)
    """Info lines (the access log) are written together at least this often; warnings and
    errors at once, after every line before them."""


class Settings(BaseSettings):
    """Everything the server reads at start-up. Nested groups use ``__``: ``SERVEKIT_LIMITS__MAX_BODY_BYTES``."""

    model_config = SettingsConfigDict(
        env_prefix="SERVEKIT_",
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        # An optional bound is turned off by the word: SERVEKIT_PREDICTION_LOG__MAX_ROWS=none.
        env_parse_none_str="none",
    )

    service_name: str = "servekit"
    """Name shown by ``GET /`` and in logs."""

    host: str = "127.0.0.1"
    """Address to listen on; ``0.0.0.0`` inside a container."""

    port: int = Field(
        default=8000, ge=0, le=65535, validation_alias=AliasChoices("SERVEKIT_PORT", "PORT", "port")
    )
    """Port to listen on. ``PORT`` (as Cloud Run sets it) is honoured when ``SERVEKIT_PORT`` is not set."""

    model_repository: Path = Path("models")
    """Folder holding model folders (each with a ``servekit.yaml``), one or two levels deep."""

    batching: bool = True
    """Gather concurrent requests to one model into shared calls (false: one call per request)."""

    workers: int = Field(default=1, gt=0)
    """Server processes; /metrics sums over all of them."""

    opentelemetry: bool = False
    """Let FastAPI's built-in OpenTelemetry report spans and metrics when a provider is configured.

    Off by default: servekit exports Prometheus metrics, and the check costs every request."""

    metrics_dir: Path | None = None
    """With several workers, the folder their metrics are summed from (emptied at start); a new temporary folder when unset."""

    shutdown_grace_s: float = Field(default=20.0, ge=0)
    """On SIGTERM, how long requests in flight may take to finish; a second signal exits at once."""

    data_dir: Path = Path(".servekit")
    """Where servekit keeps its own files, such as the default SQLite database."""

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("SERVEKIT_DATABASE_URL", "DATABASE_URL", "database_url"),
    )
    """The database (``postgresql://user:pass@host/db``); SQLite in ``data_dir`` when unset."""

    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("SERVEKIT_REDIS_URL", "redis_url")
    )
    """Distributed mode: jobs go through this Redis to ``servekit worker`` processes (in-process when unset)."""

    queue: QueueSettings = QueueSettings()
    """The Redis job queue (distributed mode)."""

    environment: Literal["development", "production"] = "development"
    """In production, secrets must be set: nothing is generated."""

    allow_anonymous: bool = False
    """Let predictions be made without a token or key (for a public demo); off by default."""

    auth: AuthSettings = AuthSettings()
    """Accounts and tokens."""

    bootstrap_admin: BootstrapAdminSettings = BootstrapAdminSettings()
    """The first admin, from the environment."""

    prediction_log: PredictionLogSettings = PredictionLogSettings()
    """The prediction log."""

    limits: LimitSettings = LimitSettings()
    """Request bounds."""

    uploads: UploadSettings = UploadSettings()
    """Uploaded images."""

    log: LogSettings = LogSettings()
    """Logging."""

    trusted_proxies: Annotated[list[str], NoDecode] = []
    """Addresses or networks (``10.0.0.0/8``) of the proxies in front of the server, whose
    ``X-Forwarded-For`` and ``X-Forwarded-Proto`` give the client's address and scheme; a list
    (JSON or comma-separated). Nobody is trusted by default: these headers are then ignored."""

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [item.strip() for item in text.split(",") if item.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        # uvicorn takes a misspelt address (or a network with host bits) for a name that never
        # matches: refuse the one, write the other as uvicorn reads it.
        return [
            str(
                ipaddress.ip_network(item, strict=False)
                if "/" in item
                else ipaddress.ip_address(item)
            )
            for item in value
        ]
