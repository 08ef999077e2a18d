"""Seed 000's model: a scikit-learn classifier on the iris data bundled with scikit-learn."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from servekit.repository.loader import ModelFolder
from servekit.repository.package import package_model

COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def training_data() -> tuple[pd.DataFrame, pd.Series]:
    """The 150 iris flowers: four measurements in cm, and the species by name."""
    iris = load_iris()
    frame = pd.DataFrame(iris.data, columns=COLUMNS)
    species = pd.Series(iris.target_names[iris.target], name="species")
    return frame, species


def train(out_dir: Path) -> ModelFolder:
    """Fit a scaled logistic regression and package it."""
    x, y = training_data()
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(x, y)
    overrides = {
        c: {"description": f"{c.replace('_', ' ').capitalize()} in cm", "minimum": 0.0}
        for c in COLUMNS
    }
    return package_model(
        model,
        x,
        out_dir,
        name="iris",
        version="1",
        description="Iris species from sepal and petal measurements (scikit-learn).",
        overrides=overrides,
        overwrite=True,
    )
