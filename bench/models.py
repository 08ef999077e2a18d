"""The benchmark's three models, trained or built the same way for every contender."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.datasets import load_iris, make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from servekit import package_model

FIXED_COST_SECONDS = 0.010


class FixedCost:
    """Spends 10 ms per call whatever the batch size, one call at a time (as one GPU would)."""

    classes_ = np.array(["no", "yes"])
    _lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def predict_proba(self, x: Any) -> Any:
        """Half and half for every row, after the fixed delay."""
        with self._lock:
            time.sleep(FIXED_COST_SECONDS)
        return np.full((len(x), 2), 0.5)


def _iris() -> tuple[Any, pd.DataFrame]:
    data = load_iris()
    x = pd.DataFrame(
        data.data, columns=["sepal_length", "sepal_width", "petal_length", "petal_width"]
    )
    return LogisticRegression(max_iter=1000).fit(x.to_numpy(), data.target_names[data.target]), x


def _forest() -> tuple[Any, pd.DataFrame]:
    x, y = make_classification(n_samples=20000, n_features=20, random_state=0)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(20)])
    return RandomForestClassifier(n_estimators=100, random_state=0).fit(x, y), frame


def _fixed() -> tuple[Any, pd.DataFrame]:
    x = np.random.default_rng(0).normal(size=(1000, 4))
    return FixedCost(), pd.DataFrame(x, columns=[f"x{i}" for i in range(4)])


BUILDERS = {"iris": _iris, "forest": _forest, "fixed": _fixed}


def build(out: Path) -> dict[str, tuple[Any, pd.DataFrame]]:
    """Train every model and package it under ``out/<name>`` (array input, like the baseline)."""
    built = {}
    for name, make in BUILDERS.items():
        model, frame = make()
        package_model(
            model,
            frame.to_numpy(),
            out / name,
            name=name,
            feature_names=list(frame.columns),
            overwrite=True,
        )
        built[name] = (model, frame)
    return built
