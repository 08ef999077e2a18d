"""Helpers of the runtime tests: iris as arrays, and starting a runtime on a model folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from sklearn.datasets import load_iris

from servekit.repository.loader import ModelFolder, read_manifest
from servekit.repository.manifest import MANIFEST_FILE
from servekit.runtimes.base import Row, Runtime
from servekit.runtimes.registry import runtime_class

IRIS_NAMES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]

Start = Callable[[Path], Runtime]
EditManifest = Callable[[Path, Callable[[dict[str, Any]], None]], ModelFolder]


@pytest.fixture(scope="session")
def iris_xy() -> tuple[np.ndarray, np.ndarray]:
    """The 150 iris flowers as a float matrix, and their species by name."""
    iris = load_iris()
    return iris.data.astype(np.float64), iris.target_names[iris.target]


def iris_rows(x: np.ndarray) -> list[Row]:
    """Validated rows, as the API hands them to a runtime."""
    return [dict(zip(IRIS_NAMES, map(float, r), strict=True)) for r in x]


@pytest.fixture
def start() -> Start:
    """Read a model folder, build its runtime by name and set it up."""

    def build(folder: Path) -> Runtime:
        model = read_manifest(folder)
        runtime = runtime_class(model.manifest.runtime)(model)
        runtime.setup()
        return runtime

    return build


@pytest.fixture
def edit_manifest() -> EditManifest:
    """Change a written ``servekit.yaml`` in place (the edit gets the raw mapping) and re-read it."""

    def edit(folder: Path, change: Callable[[dict[str, Any]], None]) -> ModelFolder:
        path = folder / MANIFEST_FILE
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        change(raw)
        path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
        return read_manifest(folder)

    return edit
