"""Shared fixtures: the bundled examples trained once, and app/client factories on top of them."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from servekit import Settings, create_app
from servekit.examples import train_examples

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
    """A model repository with iris and taxifare, trained once for the whole run (read-only)."""
    out = tmp_path_factory.mktemp("examples")
    train_examples(out)
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
        return create_app(Settings(**overrides))

    return build


@pytest.fixture
def client(make_app: AppFactory) -> Iterator[TestClient]:
    """A client of the example app, started (models loaded) and stopped around the test."""
    with TestClient(make_app()) as c:
        yield c
