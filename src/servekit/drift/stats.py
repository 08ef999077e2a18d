"""Training statistics of a data set, written into the manifest by ``servekit package``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from servekit.repository.manifest import Feature, FeatureType
from servekit.repository.stats import (
    CategoricalStats,
    DatetimeStats,
    FeatureStats,
    MultivariateStats,
    NumericStats,
    TrainingStats,
)

# A string feature with more distinct values than this is free text: no category list is kept.
MAX_CATEGORIES = 1000
# The Mahalanobis threshold sits this far above the 99.9th percentile of the training rows' own distances.
THRESHOLD_FACTOR = 1.25


def category_key(value: object) -> str:
    """How a category value is written in the statistics (bools as ``true``/``false``)."""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    return str(value)


def numeric_stats(series: pd.Series | Sequence[float]) -> NumericStats:
    """Count, range, mean, spread and quantiles of some numbers (missing ones left out)."""
    values = pd.to_numeric(pd.Series(series), errors="coerce").dropna().astype(float)
    q01, q50, q99 = np.quantile(values, [0.01, 0.5, 0.99])
    return NumericStats(
        count=int(values.size),
        min=float(values.min()),
        max=float(values.max()),
        mean=float(values.mean()),
        std=float(values.std(ddof=0)),
        q01=float(q01),
        q50=float(q50),
        q99=float(q99),
    )


def _feature_stats(feature: Feature, series: pd.Series) -> FeatureStats | None:
    series = series.dropna()
    if series.empty:
        return None
    if feature.type in (FeatureType.float, FeatureType.int):
        return numeric_stats(series)
    if feature.type is FeatureType.datetime:
        stamps = pd.to_datetime(series, utc=True)
        return DatetimeStats(
            count=int(stamps.size),
            min=stamps.min().to_pydatetime(),
            max=stamps.max().to_pydatetime(),
        )
    if feature.type is FeatureType.string:
        # Free text: a new sentence is not an unseen category, so no list of values is kept.
        return None
    counts = series.map(category_key).value_counts()
    if len(counts) > MAX_CATEGORIES:
        return None
    return CategoricalStats(
        count=int(series.size), categories={str(k): int(v) for k, v in counts.items()}
    )


def _multivariate(frame: pd.DataFrame, features: Sequence[Feature]) -> MultivariateStats | None:
    names = [
        f.name
        for f in features
        if f.type in (FeatureType.float, FeatureType.int) and frame[f.name].nunique() > 1
    ]
    x = frame[names].apply(pd.to_numeric, errors="coerce").dropna().to_numpy(dtype=float)
    if len(names) < 2 or len(x) <= len(names) + 1:
        return None
    mean = x.mean(axis=0)
    # NOTE: pinv, not inv: collinear features make the covariance singular, and pinv still gives distances.
    inv_cov = np.linalg.pinv(np.cov(x, rowvar=False))
    diff = x - mean
    distances = np.sqrt(np.clip(np.einsum("ij,jk,ik->i", diff, inv_cov, diff), 0, None))
    threshold = float(np.quantile(distances, 0.999)) * THRESHOLD_FACTOR
    return MultivariateStats(
        features=names, mean=mean.tolist(), inv_cov=inv_cov.tolist(), threshold=max(threshold, 1e-9)
    )


def compute_stats(frame: pd.DataFrame, features: Sequence[Feature]) -> TrainingStats:
    """Per-feature statistics and a multivariate reference for the given training frame."""
    per_feature = {}
    for f in features:
        stats = _feature_stats(f, frame[f.name])
        if stats is not None:
            per_feature[f.name] = stats
    return TrainingStats(
        rows=len(frame), features=per_feature, multivariate=_multivariate(frame, features)
    )
