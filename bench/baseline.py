"""The classic tutorial server (seeds 000 and 002): FastAPI, a pydantic body, a sync endpoint, one row."""

from __future__ import annotations

import os
from pathlib import Path

import joblib
import numpy as np
from fastapi import FastAPI
from pydantic import create_model

from servekit.repository.loader import read_manifest

folder = Path(os.environ["BENCH_MODEL"])
manifest = read_manifest(folder).manifest
model = joblib.load(folder / "model.joblib")
names = [f.name for f in manifest.inputs]
Row = create_model("Row", **dict.fromkeys(names, (float, ...)))  # type: ignore[call-overload]

app = FastAPI()


@app.post("/predict")
def predict(row: Row) -> dict[str, object]:
    """One row, one call to predict_proba, in FastAPI's thread pool."""
    x = np.array([[getattr(row, n) for n in names]])
    proba = model.predict_proba(x)[0]
    best = int(proba.argmax())
    return {
        "prediction": str(model.classes_[best]),
        "probabilities": dict(zip(map(str, model.classes_), proba.tolist(), strict=True)),
    }
