"""Out-of-distribution checks of each row against the model's training statistics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from servekit.drift.stats import category_key
from servekit.repository.manifest import CategoricalStats, DatetimeStats, Manifest, NumericStats
from servekit.runtimes.base import Row

MULTIVARIATE = "(multivariate)"


@dataclass(frozen=True, slots=True)
class OODWarning:
    """One way in which a row is unlike the training data."""

    feature: str
    kind: str
    value: Any
    expected: str
    message: str

    def public(self) -> dict[str, Any]:
        """JSON-ready form for responses."""
        value = self.value.isoformat() if isinstance(self.value, datetime) else self.value
        return {
            "feature": self.feature,
            "kind": self.kind,
            "value": value,
            "expected": self.expected,
            "message": self.message,
        }


def _fmt(x: float) -> str:
    return f"{x:.6g}"


class OODChecker:
    """Checks rows for values outside the training range, unseen categories and unusual combinations."""

    def __init__(self, manifest: Manifest) -> None:
        stats = manifest.training_stats
        self.margin = manifest.ood.range_margin
        self.features = stats.features if stats else {}
        mv = stats.multivariate if stats and manifest.ood.multivariate else None
        self.mv_features = mv.features if mv else []
        self.mv_mean = np.asarray(mv.mean) if mv else np.empty(0)
        self.mv_inv_cov = np.asarray(mv.inv_cov) if mv else np.empty((0, 0))
        self.mv_threshold = mv.threshold if mv else 0.0

    def check(self, rows: list[Row]) -> list[list[OODWarning]]:
        """The warnings of each row, in row order (an empty list for a row like the training data)."""
        found: list[list[OODWarning]] = [[] for _ in rows]
        for name, stats in self.features.items():
            for i, row in enumerate(rows):
                value = row.get(name)
                if value is None:
                    continue
                warning = self._check_one(name, stats, value)
                if warning is not None:
                    found[i].append(warning)
        if self.mv_features:
            self._check_multivariate(rows, found)
        return found

    def _check_one(self, name: str, stats: Any, value: Any) -> OODWarning | None:
        if isinstance(stats, NumericStats):
            width = stats.max - stats.min or abs(stats.mean) or 1.0
            lo, hi = stats.min - self.margin * width, stats.max + self.margin * width
            if lo <= value <= hi:
                return None
            return OODWarning(
                feature=name,
                kind="out_of_range",
                value=value,
                expected=f"between {_fmt(lo)} and {_fmt(hi)}",
                message=f"{name} = {_fmt(value)} is outside the training range "
                f"[{_fmt(stats.min)}, {_fmt(stats.max)}] by more than {self.margin:.0%} of its width",
            )
        if isinstance(stats, DatetimeStats):
            span = (stats.max - stats.min) * self.margin
            if stats.min - span <= value <= stats.max + span:
                return None
            return OODWarning(
                feature=name,
                kind="out_of_range",
                value=value,
                expected=f"between {(stats.min - span).isoformat()} and {(stats.max + span).isoformat()}",
                message=f"{name} = {value.isoformat()} is outside the training period "
                f"{stats.min.isoformat()} to {stats.max.isoformat()}",
            )
        if isinstance(stats, CategoricalStats) and category_key(value) not in stats.categories:
            seen = sorted(stats.categories)
            shown = ", ".join(seen[:20]) + (", …" if len(seen) > 20 else "")
            return OODWarning(
                feature=name,
                kind="unseen_category",
                value=value,
                expected=f"one of: {shown}",
                message=f"{name} = {value!r} was never seen in training",
            )
        return None

    def _check_multivariate(self, rows: list[Row], found: list[list[OODWarning]]) -> None:
        x = np.array([[float(row[n]) for n in self.mv_features] for row in rows])
        diff = x - self.mv_mean
        distances = np.sqrt(np.clip(np.einsum("ij,jk,ik->i", diff, self.mv_inv_cov, diff), 0, None))
        for i in np.flatnonzero(distances > self.mv_threshold):
            d = float(distances[i])
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
