"""Distributed-mode fixtures: the real Redis (``REDIS_URL``, or the local one) under a private prefix."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from servekit.ids import new_id
from tests.slow import slow_repo

REDIS = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis the tests use; the run fails, saying so, when it does not answer."""
    try:
        with redis.Redis.from_url(REDIS, socket_connect_timeout=2) as client:
            client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is needed at {REDIS} (set REDIS_URL to another one): {exc}")
    return REDIS


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    value = f"servekit-test-{new_id()[:12]}"
    yield value
    with redis.Redis.from_url(redis_url) as client:
        keys = list(client.scan_iter(f"{value}:*"))
        if keys:
            client.delete(*keys)


@pytest.fixture
def echo_dir(tmp_path: Path) -> Path:
    """A repository with the echo model (no delay)."""
    return slow_repo(tmp_path / "models", 0.0, name="echo", max_batch_size=16)
