"""Building a tabular model's input (frame or array) and reading its classification output."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from servekit.repository.manifest import Feature, FeatureType
from servekit.runtimes.base import Row, RowOutput

NUMERIC = (FeatureType.float, FeatureType.int, FeatureType.bool)


def to_frame(rows: list[Row], features: Sequence[Feature]) -> pd.DataFrame:
    """A frame with exactly the training columns, in their order, with their dtypes."""
    columns: dict[str, Any] = {}
    for f in features:
        values = [row[f.name] for row in rows]
        if f.type is FeatureType.datetime:
            series = pd.Series(pd.to_datetime(values, utc=True))
            if f.dtype is not None:
                # NOTE: the training zone and unit both matter: a Europe/Berlin column must not turn
                # naive (hours shift), and an ns column must not arrive as us (epoch values shift).
                target = pd.api.types.pandas_dtype(f.dtype)
                if isinstance(target, pd.DatetimeTZDtype):
                    series = series.dt.tz_convert(target.tz)
                else:  # trained on naive times, which servekit reads as UTC
                    series = series.dt.tz_localize(None)
                series = series.astype(target)
        else:
            series = pd.Series(values)
        if f.dtype is not None and f.type is not FeatureType.datetime:
            series = series.astype(f.dtype)  # type: ignore[call-overload]
        columns[f.name] = series
    return pd.DataFrame(columns)


def to_array(rows: list[Row], features: Sequence[Feature], dtype: Any = np.float64) -> Any:
    """A 2-D numeric array, one column per feature in manifest order."""
    names = [f.name for f in features]
    return np.array([[row[n] for n in names] for row in rows], dtype=dtype)


def fitted_on_array(model: Any, features: Sequence[Feature]) -> bool:
    """Whether scikit-learn saw an array, not a frame, when ``model`` was fitted.

    It records the number of input columns (``n_features_in_``) either way, and their names
    (``feature_names_in_``) only for a frame. A model without either (a custom first step) keeps
    whatever it was packaged with; so does one with non-numeric features, which no array holds.
    """
    return (
        hasattr(model, "n_features_in_")
        and not hasattr(model, "feature_names_in_")
        and all(f.type in NUMERIC for f in features)
    )


def check_numeric(features: Sequence[Feature], where: str) -> None:
    """Refuse a model whose array input would have to hold text or dates."""
    bad = [f.name for f in features if f.type not in NUMERIC]
    if bad:
        raise ValueError(
            f"{where} takes a numeric array, but feature(s) {', '.join(bad)} are not numeric"
        )


def classification_outputs(probabilities: Any, labels: Sequence[str]) -> list[RowOutput]:
    """One output per row: the most probable label and every label's probability."""
    probs = np.asarray(probabilities, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] != len(labels):
        raise ValueError(
            f"expected probabilities of shape (rows, {len(labels)}), got {probs.shape}"
        )
    # NOTE: through Python lists: iterating a numpy array makes an array object per row and a
    # numpy scalar per value, several times the cost of the lists' floats.
    best = probs.argmax(axis=1).tolist()
    return [
        RowOutput(prediction=labels[i], probabilities=dict(zip(labels, p, strict=True)))
        for i, p in zip(best, probs.tolist(), strict=True)
    ]


def plain_outputs(predictions: Any) -> list[RowOutput]:
    """One output per row from a flat array of predictions (regression, or labels only)."""
    values = np.asarray(predictions)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    return [RowOutput(prediction=v) for v in values.tolist()]
