"""Out-of-distribution checks: ranges with their margin, unseen categories, periods, combinations."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from servekit.drift.ood import MULTIVARIATE, SMALL_PRODUCT, OODChecker, OODWarning
from servekit.drift.stats import compute_stats
from servekit.examples.iris import training_data
from servekit.repository.loader import read_manifest
from servekit.repository.manifest import Manifest, OutOfDistribution
from servekit.repository.package import infer_features

# Petals this long belong to wide ones: each value lies in its training range, the pair does not.
ODD_IRIS = {"sepal_length": 5.8, "sepal_width": 3.0, "petal_length": 6.0, "petal_width": 0.2}


def manifest_for(frame: pd.DataFrame, **ood: Any) -> Manifest:
    """A manifest whose inputs and training statistics come from ``frame``."""
    features = infer_features(frame)
    return Manifest.model_validate(
        {
            "name": "m",
            "runtime": "python",
            "task": "custom",
            "inputs": [f.model_dump() for f in features],
            "ood": ood,
            "training_stats": compute_stats(frame, features).model_dump(),
        }
    )


def check_one(manifest: Manifest, row: dict[str, Any]) -> list[OODWarning]:
    """The warnings of one row."""
    [warnings] = OODChecker(manifest).check([row])
    return warnings


@pytest.fixture(scope="module")
def ranged() -> Manifest:
    """One float feature trained on 0 to 10 (width 10), default margin 10%."""
    return manifest_for(pd.DataFrame({"v": np.linspace(0.0, 10.0, 11)}))


@pytest.fixture(scope="module")
def iris_manifest(examples_dir: Path) -> Manifest:
    """The packaged iris example, with its multivariate reference."""
    return read_manifest(examples_dir / "iris").manifest


@pytest.mark.parametrize("value", [0.0, 5.0, 10.0, -1.0, 11.0, 10.5])
def test_value_inside_range_and_margin_gives_nothing(ranged: Manifest, value: float) -> None:
    assert check_one(ranged, {"v": value}) == []


@pytest.mark.parametrize("value", [11.5, -1.5, 1e9])
def test_value_outside_gives_an_out_of_range_warning(ranged: Manifest, value: float) -> None:
    [warning] = check_one(ranged, {"v": value})

    assert (warning.feature, warning.kind, warning.value) == ("v", "out_of_range", value)
    assert warning.expected == "between -1 and 11"
    assert "outside the training range [0, 10] by more than 10% of its width" in warning.message
    assert warning.message.startswith("v = ")


@pytest.mark.parametrize(
    ("margin", "inside", "outside"),
    [(0.0, 10.0, 10.01), (0.5, 14.9, 15.1), (0.1, 10.99, 11.01), (1.0, -9.9, -10.1)],
)
def test_margin_is_a_fraction_of_the_range_width(
    margin: float, inside: float, outside: float
) -> None:
    manifest = manifest_for(pd.DataFrame({"v": [0.0, 4.0, 10.0]}), range_margin=margin)
    assert check_one(manifest, {"v": inside}) == []
    assert [w.kind for w in check_one(manifest, {"v": outside})] == ["out_of_range"]


def test_constant_feature_takes_its_mean_as_width() -> None:
    manifest = manifest_for(pd.DataFrame({"v": [5, 5, 5]}))
    assert check_one(manifest, {"v": 5.4}) == []
    [warning] = check_one(manifest, {"v": 5.6})
    assert warning.expected == "between 4.5 and 5.5"


def test_unseen_category_is_flagged() -> None:
    manifest = manifest_for(pd.DataFrame({"colour": ["red", "green", "blue", "red"]}))
    assert check_one(manifest, {"colour": "green"}) == []

    [warning] = check_one(manifest, {"colour": "purple"})
    assert (warning.feature, warning.kind, warning.value) == ("colour", "unseen_category", "purple")
    assert warning.expected == "one of: blue, green, red"
    assert warning.message == "colour = 'purple' was never seen in training"


def test_bool_never_seen_in_training_is_flagged() -> None:
    manifest = manifest_for(pd.DataFrame({"flag": [True, True]}))
    assert check_one(manifest, {"flag": True}) == []
    assert [w.kind for w in check_one(manifest, {"flag": False})] == ["unseen_category"]


def test_datetime_outside_the_training_period_is_flagged() -> None:
    when = pd.to_datetime(["2020-01-01", "2020-07-01", "2020-12-31"], utc=True)
    manifest = manifest_for(pd.DataFrame({"when": when}))
    # 10% of the 365-day period is 36.5 days of slack on either side.
    assert check_one(manifest, {"when": datetime(2020, 6, 1, tzinfo=UTC)}) == []
    assert check_one(manifest, {"when": datetime(2021, 2, 1, tzinfo=UTC)}) == []

    late = datetime(2021, 2, 10, tzinfo=UTC)
    [warning] = check_one(manifest, {"when": late})
    assert (warning.feature, warning.kind, warning.value) == ("when", "out_of_range", late)
    assert warning.message == (
        "when = 2021-02-10T00:00:00+00:00 is outside the training period "
        "2020-01-01T00:00:00+00:00 to 2020-12-31T00:00:00+00:00"
    )
    assert warning.public()["value"] == "2021-02-10T00:00:00+00:00"
    assert [w.kind for w in check_one(manifest, {"when": datetime(2019, 11, 1, tzinfo=UTC)})] == [
        "out_of_range"
    ]


def test_missing_values_are_not_checked(ranged: Manifest) -> None:
    assert OODChecker(ranged).check([{"v": None}, {}]) == [[], []]


def test_manifest_without_statistics_flags_nothing() -> None:
    manifest = manifest_for(pd.DataFrame({"v": [0.0, 1.0]})).model_copy(
        update={"training_stats": None}
    )
    assert OODChecker(manifest).check([{"v": 1e9}]) == [[]]


def test_warnings_are_given_per_row_in_row_order(ranged: Manifest) -> None:
    found = OODChecker(ranged).check([{"v": 5.0}, {"v": 50.0}, {"v": 4.0}, {"v": -50.0}])
    assert [[w.value for w in row] for row in found] == [[], [50.0], [], [-50.0]]


def test_odd_combination_is_a_multivariate_outlier(iris_manifest: Manifest) -> None:
    [warning] = check_one(iris_manifest, ODD_IRIS)
    training = iris_manifest.training_stats
    assert training is not None
    assert training.multivariate is not None

    assert (warning.feature, warning.kind) == (MULTIVARIATE, "multivariate_outlier")
    assert warning.value > training.multivariate.threshold
    assert warning.expected.startswith("Mahalanobis distance at most ")
    assert "sepal_length, sepal_width, petal_length, petal_width" in warning.message


def test_training_rows_are_not_flagged(iris_manifest: Manifest) -> None:
    frame, _ = training_data()
    rows = [{str(k): v for k, v in r.items()} for r in frame.to_dict("records")]
    found = OODChecker(iris_manifest).check(rows)
    assert found == [[] for _ in range(len(frame))]


def test_multivariate_false_turns_the_combination_check_off(iris_manifest: Manifest) -> None:
    manifest = iris_manifest.model_copy(update={"ood": OutOfDistribution(multivariate=False)})
    assert check_one(manifest, ODD_IRIS) == []
    assert [w.kind for w in check_one(manifest, {**ODD_IRIS, "petal_width": 9.0})] == [
        "out_of_range"
    ]


def test_public_form_is_json_ready(ranged: Manifest) -> None:
    [warning] = check_one(ranged, {"v": 20.0})
    assert warning.public() == {
        "feature": "v",
        "kind": "out_of_range",
        "value": 20.0,
        "expected": "between -1 and 11",
        "message": warning.message,
    }


def test_small_and_large_requests_get_the_same_distances(iris_manifest: Manifest) -> None:
    frame, _ = training_data()
    rows = [{str(k): v for k, v in r.items()} for r in frame.head(40).to_dict("records")]
    rows.append(ODD_IRIS)
    checker = OODChecker(iris_manifest)
    assert len(rows) * 16 > SMALL_PRODUCT  # all at once: numpy
    together = checker._squared_distances(rows)
    alone = [checker._squared_distances([row])[0] for row in rows]  # one by one: plain Python
    assert alone == pytest.approx(together, rel=1e-12)
    assert [w for row in checker.check(rows) for w in row] == check_one(iris_manifest, ODD_IRIS)


def test_a_distance_that_overflows_is_an_outlier_said_as_text(iris_manifest: Manifest) -> None:
    # 1e308 everywhere: the distance is inf - inf, NaN; one huge value: the distance is infinite.
    everywhere = dict.fromkeys(ODD_IRIS, 1e308)
    one = {**ODD_IRIS, "petal_width": 1e300}
    checker = OODChecker(iris_manifest)
    for rows in ([everywhere, one], [everywhere, one] * 10):  # plain Python, then numpy
        far = [[w for w in row if w.feature == MULTIVARIATE] for row in checker.check(rows)]
        assert [[w.public()["value"] for w in row] for row in far[:2]] == [["nan"], ["inf"]]
