"""Out-of-distribution checks of each row against the model's training statistics."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from operator import mul
from typing import Any

import numpy as np

from servekit.drift.stats import category_key
from servekit.repository.manifest import Manifest
from servekit.repository.stats import CategoricalStats, DatetimeStats, NumericStats
from servekit.runtimes.base import Row

MULTIVARIATE = "(multivariate)"
SMALL_PRODUCT = 64
"""Up to this many rows x features squared, distances are worked out in plain Python."""


@dataclass(frozen=True, slots=True)
class OODWarning:
    """One way in which a row is unlike the training data."""

    feature: str
    kind: str
    value: Any
    expected: str
    message: str

    def public(self) -> dict[str, Any]:
        """JSON-ready form for responses: a time as ISO 8601, NaN or infinity as text ("inf")."""
        value = self.value
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, float) and not math.isfinite(value):
            value = str(value)  # JSON has no such numbers
        return {
            "feature": self.feature,
            "kind": self.kind,
            "value": value,
            "expected": self.expected,
            "message": self.message,
        }


def range_bounds(stats: NumericStats, margin: float) -> tuple[float, float]:
    """The training range widened by ``margin`` of its width (of the mean's size, for one value)."""
    width = stats.max - stats.min or abs(stats.mean) or 1.0
    return stats.min - margin * width, stats.max + margin * width


def _fmt(x: float) -> str:
    return f"{x:.6g}"


class OODChecker:
    """Checks rows for values outside the training range, unseen categories and unusual combinations.

    Bounds are worked out once here; a check is then a few comparisons per feature and one
    matrix product per batch, since it runs on every request.
    """

    def __init__(self, manifest: Manifest) -> None:
        stats = manifest.training_stats
        self.margin = manifest.ood.range_margin
        self.numeric: list[tuple[str, NumericStats, float, float]] = []
        self.periods: list[tuple[str, DatetimeStats, datetime, datetime]] = []
        self.categorical: list[tuple[str, CategoricalStats]] = []
        for name, feature_stats in (stats.features if stats else {}).items():
            if isinstance(feature_stats, NumericStats):
                self.numeric.append(
                    (name, feature_stats, *range_bounds(feature_stats, self.margin))
                )
            elif isinstance(feature_stats, DatetimeStats):
                span = (feature_stats.max - feature_stats.min) * self.margin
                self.periods.append(
                    (name, feature_stats, feature_stats.min - span, feature_stats.max + span)
                )
            else:
                self.categorical.append((name, feature_stats))
        mv = stats.multivariate if stats and manifest.ood.multivariate else None
        self.mv_features = mv.features if mv else []
        self.mv_mean = np.asarray(mv.mean) if mv else np.empty(0)
        self.mv_inv_cov = np.asarray(mv.inv_cov) if mv else np.empty((0, 0))
        self.mv_threshold = mv.threshold if mv else 0.0
        # The same numbers as plain floats: for a row or two of a few features, plain Python is
        # a few times faster than numpy, whose every call costs about a microsecond.
        self._mv_pairs = list(zip(self.mv_features, self.mv_mean.tolist(), strict=True))
        self._mv_rows = self.mv_inv_cov.tolist()

    def check(self, rows: list[Row]) -> list[list[OODWarning]]:
        """The warnings of each row, in row order (an empty list for a row like the training data)."""
        found: list[list[OODWarning]] = [[] for _ in rows]
        for i, row in enumerate(rows):
            for name, numeric, lo, hi in self.numeric:
                value = row.get(name)
                if value is not None and not lo <= value <= hi:
                    found[i].append(self._out_of_range(name, numeric, value, lo, hi))
            for name, period, start, end in self.periods:
                when = row.get(name)
                if when is not None and not start <= when <= end:
                    found[i].append(self._outside_period(name, period, when, start, end))
            for name, categorical in self.categorical:
                value = row.get(name)
                if value is not None and category_key(value) not in categorical.categories:
                    found[i].append(self._unseen(name, categorical, value))
        if self.mv_features:
            self._check_multivariate(rows, found)
        return found

    def _out_of_range(
        self, name: str, stats: NumericStats, value: float, lo: float, hi: float
    ) -> OODWarning:
        return OODWarning(
            feature=name,
            kind="out_of_range",
            value=value,
            expected=f"between {_fmt(lo)} and {_fmt(hi)}",
            message=f"{name} = {_fmt(value)} is outside the training range "
            f"[{_fmt(stats.min)}, {_fmt(stats.max)}] by more than {self.margin:.0%} of its width",
        )

    def _outside_period(
        self, name: str, stats: DatetimeStats, when: datetime, start: datetime, end: datetime
    ) -> OODWarning:
        return OODWarning(
            feature=name,
            kind="out_of_range",
            value=when,
            expected=f"between {start.isoformat()} and {end.isoformat()}",
            message=f"{name} = {when.isoformat()} is outside the training period "
            f"{stats.min.isoformat()} to {stats.max.isoformat()}",
        )

    def _unseen(self, name: str, stats: CategoricalStats, value: Any) -> OODWarning:
        seen = sorted(stats.categories)
        shown = ", ".join(seen[:20]) + (", …" if len(seen) > 20 else "")
        return OODWarning(
            feature=name,
            kind="unseen_category",
            value=value,
            expected=f"one of: {shown}",
            message=f"{name} = {value!r} was never seen in training",
        )

    def _squared_distances(self, rows: list[Row]) -> list[float]:
        k = len(self.mv_features)
        if len(rows) * k * k <= SMALL_PRODUCT:
            squared: list[float] = []
            for row in rows:
                d = [row[name] - mean for name, mean in self._mv_pairs]
                squared.append(sum(map(mul, d, [sum(map(mul, r, d)) for r in self._mv_rows])))
            return squared
        x = np.array([[row[n] for n in self.mv_features] for row in rows], dtype=np.float64)
        # Extreme values overflow to infinity or NaN, which _check_multivariate reads as far away.
        with np.errstate(over="ignore", invalid="ignore"):
            diff = x - self.mv_mean
            result: list[float] = ((diff @ self.mv_inv_cov) * diff).sum(axis=1).tolist()
        return result

    def _check_multivariate(self, rows: list[Row], found: list[list[OODWarning]]) -> None:
        # Squared distances, compared with the squared threshold: no square root for ordinary rows.
        squared = self._squared_distances(rows)
        limit = self.mv_threshold * self.mv_threshold
        for i, d2 in enumerate(squared):
            # NOTE: not ``d2 > limit``: a distance that overflowed to NaN (inf - inf) is far too.
            if not d2 <= limit:
                d = math.sqrt(d2)
                found[i].append(
                    OODWarning(
                        feature=MULTIVARIATE,
                        kind="multivariate_outlier",
                        value=round(d, 4),
                        expected=f"Mahalanobis distance at most {_fmt(self.mv_threshold)}",
                        message=f"the combination of {', '.join(self.mv_features)} is far from the training "
                        f"data (Mahalanobis distance {_fmt(d)} > {_fmt(self.mv_threshold)})",
                    )
                )
