"""Shared fixtures: the bundled examples trained once, and app/client factories on top of them."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from servekit import Settings, create_app
from servekit.examples import train_examples
from servekit.ids import new_id
from servekit.storage.db import async_url

IRIS_SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
TAXI_RIDE = {
    "pickup_datetime": "2013-07-06 17:18:00 UTC",
    "pickup_longitude": -73.950655,
    "pickup_latitude": 40.783282,
    "dropoff_longitude": -73.984365,
    "dropoff_latitude": 40.769802,
    "passenger_count": 1,
}


@pytest.fixture(scope="session")
def examples_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model repository with iris and taxifare, trained once for the whole run (read-only).

    NOTE: not digits, the image example (tests/examples trains it): these tests are about rows
    of features, and a process that loads a PyTorch model holds about 280 MB more (torch itself).
    """
    out = tmp_path_factory.mktemp("examples")
    train_examples(out, ["iris", "taxifare"])
    return out


@pytest.fixture(scope="session")
def digits_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model repository with the digits example alone, trained once for the whole run (read-only).

    NOTE: apart from the shared examples: a process that loads PyTorch holds about 280 MB more,
    which the tests about rows and memory have no use for.
    """
    out = tmp_path_factory.mktemp("digits")
    train_examples(out, ["digits"])
    return out


@pytest.fixture(scope="session")
def forecast_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model repository with the forecast example alone, trained once for the run (read-only)."""
    out = tmp_path_factory.mktemp("forecast")
    train_examples(out, ["forecast"])
    return out


@pytest.fixture(scope="session")
def ner_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model repository with the ner example alone (spaCy's English pipeline), read-only.

    NOTE: apart from the shared examples: spaCy and its pipeline take a second to load, and
    about 150 MB that the tests about rows have no use for.
    """
    out = tmp_path_factory.mktemp("ner")
    train_examples(out, ["ner"])
    return out


@pytest.fixture
def repo_dir(examples_dir: Path, tmp_path: Path) -> Path:
    """A private, writable copy of the example repository, for tests that add or change models."""
    target = tmp_path / "models"
    shutil.copytree(examples_dir, target)
    return target


AppFactory = Callable[..., FastAPI]


@pytest.fixture
def make_app(examples_dir: Path, tmp_path: Path) -> AppFactory:
    """Build an app over the examples (or ``model_repository=...``) with any settings changed."""

    def build(**overrides: Any) -> FastAPI:
        overrides.setdefault("model_repository", examples_dir)
        overrides.setdefault("data_dir", tmp_path / "data")
        # Most tests are about predictions, not accounts: tests/api/test_prediction_auth.py checks the default.
        overrides.setdefault("allow_anonymous", True)
        return create_app(Settings(**overrides))

    return build


@pytest.fixture
def client(make_app: AppFactory) -> Iterator[TestClient]:
    """A client of the example app, started (models loaded) and stopped around the test."""
    with TestClient(make_app()) as c:
        yield c


# Storage and auth tests run on SQLite and on a real PostgreSQL (DATABASE_URL, or the local one).
POSTGRES = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


async def _admin(sql: str) -> None:
    engine = create_async_engine(async_url(POSTGRES), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(sql))
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A new, empty database: a SQLite file, or a database created on the PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'servekit.db'}"
        return
    name = f"servekit_test_{new_id()[-12:]}"  # the random end (the start is the time)
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        shown = make_url(async_url(POSTGRES)).render_as_string(hide_password=True)
        pytest.fail(f"PostgreSQL is needed at {shown} (set DATABASE_URL to another one): {exc}")
    yield make_url(async_url(POSTGRES)).set(database=name).render_as_string(hide_password=False)
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# Distributed-mode tests use the real Redis (REDIS_URL, or the local one) under a prefix of their own.
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


LOGGERS = ("servekit", "servekit.access", "uvicorn", "uvicorn.error", "uvicorn.access", "shop")
"""The loggers that ``servekit.monitoring.instrument`` (through ``configure_logging``) changes."""


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """For tests that instrument an app: its logging set-up is undone afterwards."""
    saved = {}
    for name in LOGGERS:
        logger = logging.getLogger(name)
        saved[name] = (list(logger.handlers), logger.level, logger.propagate, logger.disabled)
    yield
    for name, (handlers, level, propagate, disabled) in saved.items():
        logger = logging.getLogger(name)
        for handler in set(logger.handlers) - set(handlers):
            handler.close()
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate
        logger.disabled = disabled
