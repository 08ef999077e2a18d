"""Connecting to Redis so that an outage fails fast instead of hanging requests."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, OSError)
"""What an unreachable, stopped or restarting Redis raises."""


def connect(url: str) -> Redis:
    """A client that gives up quickly: callers decide about waiting and retrying.

    A refused connection fails at once; a host that does not answer, within a second. A command
    is tried again once, on a new connection, so that pooled connections left dead by a Redis
    restart do not each fail one request.
    """
    return Redis.from_url(
        url,
        socket_connect_timeout=1.0,
        socket_timeout=5.0,
        retry=Retry(NoBackoff(), 1),
        health_check_interval=0,
    )


def redacted(url: str) -> str:
    """The URL without its password, for logs and messages."""
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user + ':***' if user else '***'}@{host}"
