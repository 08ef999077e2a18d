"""Training statistics as the manifest keeps them: per feature, multivariate, of images, texts and
series."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from servekit.repository.strict import Strict


class NumericStats(Strict):
    """Training statistics of a numeric feature."""

    kind: Literal["numeric"] = "numeric"
    count: int
    min: float
    max: float
    mean: float
    std: float
    q01: float
    q50: float
    q99: float


class CategoricalStats(Strict):
    """Training statistics of a category, string or bool feature."""

    kind: Literal["categorical"] = "categorical"
    count: int
    categories: dict[str, int]
    """Each value seen in training and how often."""


class DatetimeStats(Strict):
    """Training statistics of a datetime feature."""

    kind: Literal["datetime"] = "datetime"
    count: int
    min: datetime
    max: datetime


# Discriminated by ``kind``, so that a bad entry is reported against its own type only.
FeatureStats = Annotated[
    NumericStats | CategoricalStats | DatetimeStats, Field(discriminator="kind")
]


class MultivariateStats(Strict):
    """Reference for the Mahalanobis distance of a row from the training data."""

    features: list[str]
    mean: list[float]
    inv_cov: list[list[float]]
    threshold: float = Field(gt=0)
    """Distances above this are flagged (taken from the training rows' own distances)."""

    @model_validator(mode="after")
    def _check_shape(self) -> Self:
        k = len(self.features)
        if len(self.mean) != k or len(self.inv_cov) != k or any(len(r) != k for r in self.inv_cov):
            raise ValueError(f"mean and inv_cov must be sized to the {k} features")
        return self


class ImageStats(Strict):
    """What the training images looked like, after preprocessing and before normalisation."""

    count: int
    mean: NumericStats
    """Each image's mean pixel intensity (0-1 with the default scale)."""
    std: NumericStats
    """Each image's standard deviation of pixel intensity: its contrast."""
    confidence: NumericStats | None = None
    """The model's top probability on the training images (classifiers)."""


RECENT_VALUES = 90


class SeriesStats(Strict):
    """What the training series looked like: its values, its steps' changes, and its dates."""

    count: int
    start: datetime
    end: datetime
    """The last date of the training series: a forecast without a history starts after it."""
    values: NumericStats
    returns: NumericStats
    """Each step's change: the log return (``transform: log``) or the difference."""
    recent: list[float] = Field(default_factory=list)
    """Its last values (at most ``RECENT_VALUES``), up to ``end``: what a forecast without a
    history goes on from, for showing beside it."""


class TextStats(Strict):
    """What the training (or reference) texts looked like."""

    count: int
    chars: NumericStats
    """Each text's length in characters."""
    scripts: list[str]
    """The writing systems of their letters (``LATIN``), those that hold 99% of them."""
    foreign: NumericStats
    """Each text's share of letters in none of ``scripts``."""


class TrainingStats(Strict):
    """What the training data looked like, written by ``servekit package``."""

    rows: int
    features: dict[str, FeatureStats] = Field(default_factory=dict)
    """Per tabular feature."""
    multivariate: MultivariateStats | None = None
    image: ImageStats | None = None
    """Of the training images, for a model that takes an image."""
    text: TextStats | None = None
    """Of the training texts, for a model that takes text."""
    series: SeriesStats | None = None
    """Of the training series, for a forecaster."""
