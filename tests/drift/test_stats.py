"""Training statistics: per-feature summaries and the multivariate reference, checked against numpy."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from servekit.drift.stats import MAX_CATEGORIES, THRESHOLD_FACTOR, category_key, compute_stats
from servekit.repository.package import infer_features
from servekit.repository.stats import (
    CategoricalStats,
    DatetimeStats,
    NumericStats,
    TrainingStats,
)


def stats_of(frame: pd.DataFrame) -> TrainingStats:
    """The statistics packaging would write for this frame."""
    return compute_stats(frame, infer_features(frame))


def correlated(n: int = 300, seed: int = 3) -> pd.DataFrame:
    """Two correlated numeric columns and a noisy third one."""
    rng = np.random.default_rng(seed)
    a = rng.normal(0, 1, n)
    return pd.DataFrame({"a": a, "b": 2 * a + rng.normal(0, 0.3, n), "c": rng.normal(5, 2, n)})


def test_numeric_stats_match_numpy() -> None:
    values = np.random.default_rng(0).gamma(2.0, 3.0, 500)
    stats = stats_of(pd.DataFrame({"v": values})).features["v"]

    assert isinstance(stats, NumericStats)
    assert stats.count == 500
    assert stats.min == values.min()
    assert stats.max == values.max()
    assert stats.mean == pytest.approx(values.mean())
    assert stats.std == pytest.approx(values.std(ddof=0))
    assert [stats.q01, stats.q50, stats.q99] == pytest.approx(
        list(np.quantile(values, [0.01, 0.5, 0.99]))
    )


def test_missing_values_are_left_out() -> None:
    frame = pd.DataFrame({"v": [1.0, np.nan, 3.0, np.nan], "w": [np.nan] * 4})
    training = stats_of(frame)
    v = training.features["v"]

    assert training.rows == 4
    assert isinstance(v, NumericStats)
    assert (v.count, v.min, v.max, v.mean) == (2, 1.0, 3.0, 2.0)
    assert "w" not in training.features


def test_integers_are_numeric() -> None:
    stats = stats_of(pd.DataFrame({"k": np.array([3, 1, 2, 2], dtype="int64")})).features["k"]
    assert isinstance(stats, NumericStats)
    assert (stats.min, stats.max, stats.q50) == (1.0, 3.0, 2.0)


def test_categories_are_counted() -> None:
    frame = pd.DataFrame({"colour": ["red", "blue", "red", "red", "green"]})
    stats = stats_of(frame).features["colour"]
    assert isinstance(stats, CategoricalStats)
    assert stats.count == 5
    assert stats.categories == {"red": 3, "blue": 1, "green": 1}


def test_bools_are_counted_as_true_and_false() -> None:
    stats = stats_of(pd.DataFrame({"flag": [True, False, True]})).features["flag"]
    assert isinstance(stats, CategoricalStats)
    assert stats.categories == {"true": 2, "false": 1}


@pytest.mark.parametrize(
    ("value", "key"),
    [(True, "true"), (np.bool_(False), "false"), ("red", "red"), (3, "3")],
)
def test_category_key(value: object, key: str) -> None:
    assert category_key(value) == key


def test_too_many_distinct_strings_keep_no_category_list() -> None:
    frame = pd.DataFrame({"text": [f"t{i}" for i in range(MAX_CATEGORIES + 1)]})
    assert "text" not in stats_of(frame).features


def test_datetime_range_is_kept_in_utc() -> None:
    frame = pd.DataFrame(
        {
            "zoned": pd.to_datetime(["2020-03-01 12:00", "2020-01-01 00:30"]).tz_localize(
                "Europe/Berlin"
            ),
            "naive": pd.to_datetime(["2019-05-01", "2019-07-01"]),
        }
    )
    training = stats_of(frame)
    zoned, naive = training.features["zoned"], training.features["naive"]

    assert isinstance(zoned, DatetimeStats)
    assert zoned.count == 2
    assert zoned.min == datetime(2019, 12, 31, 23, 30, tzinfo=UTC)
    assert zoned.max == datetime(2020, 3, 1, 11, tzinfo=UTC)
    assert isinstance(naive, DatetimeStats)
    assert (naive.min, naive.max) == (
        datetime(2019, 5, 1, tzinfo=UTC),
        datetime(2019, 7, 1, tzinfo=UTC),
    )


def test_multivariate_reference_matches_numpy() -> None:
    frame = correlated()
    mv = stats_of(frame).multivariate
    assert mv is not None

    x = frame.to_numpy()
    inv_cov = np.linalg.inv(np.cov(x, rowvar=False))
    diff = x - x.mean(axis=0)
    distances = np.sqrt(np.einsum("ij,jk,ik->i", diff, inv_cov, diff))
    assert mv.features == ["a", "b", "c"]
    np.testing.assert_allclose(mv.mean, x.mean(axis=0))
    np.testing.assert_allclose(mv.inv_cov, inv_cov, rtol=1e-8)
    assert mv.threshold == pytest.approx(np.quantile(distances, 0.999) * THRESHOLD_FACTOR)
    assert mv.threshold > distances.max()


def test_multivariate_leaves_out_constant_and_non_numeric_columns() -> None:
    frame = correlated().assign(
        constant=1.0, colour="red", flag=True, when=pd.Timestamp("2020-01-01", tz="UTC")
    )
    mv = stats_of(frame).multivariate
    assert mv is not None
    assert mv.features == ["a", "b", "c"]


def test_collinear_columns_still_give_a_reference() -> None:
    frame = correlated().assign(d=lambda f: f["a"] + f["c"])
    mv = stats_of(frame).multivariate
    assert mv is not None
    assert mv.features == ["a", "b", "c", "d"]
    assert np.isfinite(mv.inv_cov).all()
    assert mv.threshold > 0


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "colour": ["r", "g", "r", "g"]}),
        pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [2.0, 1.0, 5.0]}),
    ],
    ids=["one-numeric-feature", "too-few-rows"],
)
def test_no_multivariate_reference_without_enough_data(frame: pd.DataFrame) -> None:
    assert stats_of(frame).multivariate is None


def test_free_text_keeps_no_category_list_so_new_text_is_not_flagged() -> None:
    frame = pd.DataFrame({"note": [f"note number {i}" for i in range(60)]})
    features = infer_features(frame)
    assert features[0].type == "string"
    assert "note" not in compute_stats(frame, features).features
