"""The scikit-learn runtime: the exact training frame, arrays, classifier and regressor outputs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline

from servekit import package_model
from servekit.exceptions import PredictionError
from servekit.runtimes.base import Row
from servekit.runtimes.sklearn import SklearnRuntime
from tests.runtimes.conftest import IRIS_NAMES, EditManifest, Start, iris_rows

COLORS = {"red": 0, "green": 1, "blue": 2}


class FrameGuard(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Refuses any frame whose columns, order or dtypes differ from the training frame's.

    It also turns the frame into numbers from the columns' own values (epoch in the stored unit,
    local hour of the zoned column), so that a wrong unit or zone changes the predictions too.
    """

    def fit(self, x: pd.DataFrame, y: Any = None) -> FrameGuard:
        """Remember the training columns and dtypes."""
        self.columns_ = list(x.columns)
        self.dtypes_ = [str(d) for d in x.dtypes]
        return self

    def transform(self, x: pd.DataFrame) -> np.ndarray:
        """Check the frame, then encode it."""
        seen = (list(x.columns), [str(d) for d in x.dtypes])
        if seen != (self.columns_, self.dtypes_):
            raise TypeError(f"trained on {(self.columns_, self.dtypes_)}, got {seen}")
        return np.column_stack(
            [
                x["size"],
                x["count"],
                x["flag"].astype(float),
                x["stamp"].astype("int64") / 1e9 / 86400 / 365,  # years, if the unit is ns
                x["local"].dt.hour,
                x["naive"].dt.day_of_year,
                x["color"].map(COLORS),
            ]
        )


def mixed_frame(n: int = 40) -> pd.DataFrame:
    """Columns of every kind a DataFrame pipeline may be trained on, in a deliberate order."""
    rng = np.random.default_rng(1)
    seconds = rng.integers(0, 3 * 365 * 86400, n)
    start = pd.Timestamp("2019-01-01", tz="UTC")
    stamps = pd.Series(start + pd.to_timedelta(seconds, unit="s")).dt.as_unit("ns")
    return pd.DataFrame(
        {
            "size": rng.normal(5, 1, n),
            "count": rng.integers(0, 9, n).astype("int32"),
            "flag": rng.random(n) > 0.5,
            "stamp": stamps,
            "local": stamps.dt.tz_convert("Europe/Berlin").dt.as_unit("us"),
            "naive": stamps.dt.tz_localize(None),
            "color": rng.choice(list(COLORS), n),
        }
    )


def api_rows(frame: pd.DataFrame) -> list[Row]:
    """The frame's rows as validated API rows: times in UTC, keys in an order unlike the frame's."""
    rows = []
    for record in frame.to_dict("records"):
        row: Row = {}
        for name in reversed(frame.columns):
            value = record[name]
            if isinstance(value, pd.Timestamp):
                stamp = value.tz_localize("UTC") if value.tz is None else value.tz_convert("UTC")
                value = stamp.to_pydatetime()
            row[name] = value
        rows.append(row)
    return rows


def test_dataframe_pipeline_gets_exact_training_columns_order_and_dtypes(
    tmp_path: Path, start: Start
) -> None:
    frame = mixed_frame()
    target = np.where(frame["size"] > 5, "big", "small")
    model = make_pipeline(FrameGuard(), LogisticRegression(max_iter=1000)).fit(frame, target)
    package_model(model, frame, tmp_path / "mixed", name="mixed")
    runtime = start(tmp_path / "mixed")
    rows = api_rows(frame)

    assert isinstance(runtime, SklearnRuntime)
    assert runtime.input_format == "dataframe"
    pd.testing.assert_frame_equal(runtime.decode(rows), frame)
    outputs = runtime(rows)
    expected = model.predict_proba(frame)
    for out, probs in zip(outputs, expected, strict=True):
        assert out.probabilities is not None
        assert list(out.probabilities.values()) == pytest.approx(list(probs), abs=1e-12)


def test_numpy_trained_model_gets_a_float_array(
    tmp_path: Path, start: Start, iris_xy: tuple[np.ndarray, np.ndarray]
) -> None:
    x, y = iris_xy
    model = LogisticRegression(max_iter=1000).fit(x, y)
    package_model(model, x, tmp_path / "iris", name="iris", feature_names=IRIS_NAMES)
    runtime = start(tmp_path / "iris")
    rows = iris_rows(x[:5])

    assert isinstance(runtime, SklearnRuntime)
    assert runtime.input_format == "array"
    batch = runtime.decode([dict(reversed(r.items())) for r in rows])
    assert isinstance(batch, np.ndarray)
    assert batch.dtype == np.float64
    np.testing.assert_array_equal(batch, x[:5])
    assert [o.prediction for o in runtime(rows)] == list(model.predict(x[:5]))


def test_classifier_gives_labels_and_probabilities_summing_to_one(
    tmp_path: Path, start: Start, iris_xy: tuple[np.ndarray, np.ndarray]
) -> None:
    x, y = iris_xy
    model = LogisticRegression(max_iter=1000).fit(x, y)
    package_model(model, x, tmp_path / "iris", name="iris", feature_names=IRIS_NAMES)
    outputs = start(tmp_path / "iris")(iris_rows(x))

    assert len(outputs) == len(x)
    for out, expected in zip(outputs, model.predict(x), strict=True):
        assert out.probabilities is not None
        assert list(out.probabilities) == ["setosa", "versicolor", "virginica"]
        assert sum(out.probabilities.values()) == pytest.approx(1.0)
        assert all(isinstance(p, float) for p in out.probabilities.values())
        assert out.prediction == expected == max(out.probabilities, key=out.probabilities.get)  # type: ignore[arg-type]


def test_manifest_labels_name_the_probability_columns(
    tmp_path: Path, start: Start, iris_xy: tuple[np.ndarray, np.ndarray]
) -> None:
    x, y = iris_xy
    codes = np.unique(y, return_inverse=True)[1]
    model = LogisticRegression(max_iter=1000).fit(x, codes)
    package_model(
        model, x, tmp_path / "iris", name="iris", feature_names=IRIS_NAMES, labels=["a", "b", "c"]
    )
    [out] = start(tmp_path / "iris")(iris_rows(x[-1:]))
    assert out.prediction == "c"
    assert out.probabilities is not None
    assert set(out.probabilities) == {"a", "b", "c"}


def test_regressor_gives_plain_floats(
    tmp_path: Path, start: Start, iris_xy: tuple[np.ndarray, np.ndarray]
) -> None:
    x, _ = iris_xy
    frame = pd.DataFrame(x[:, :3], columns=IRIS_NAMES[:3])
    model = Ridge().fit(frame, x[:, 3])
    package_model(model, frame, tmp_path / "width", name="width")
    rows = [dict(zip(IRIS_NAMES[:3], map(float, r), strict=True)) for r in x[:4, :3]]
    outputs = start(tmp_path / "width")(rows)

    assert [o.probabilities for o in outputs] == [None] * 4
    assert all(type(o.prediction) is float for o in outputs)
    assert [o.prediction for o in outputs] == pytest.approx(list(model.predict(frame[:4])))


def test_array_input_is_refused_for_a_non_numeric_feature(tmp_path: Path, start: Start) -> None:
    frame = pd.DataFrame({"size": [1.0, 2.0, 3.0], "color": ["red", "green", "red"]})
    package_model(
        Ridge(),
        frame,
        tmp_path / "m",
        name="m",
        task="regression",
        extra={"options": {"input_format": "array"}},
    )
    with pytest.raises(ValueError, match=r"numeric array, but feature\(s\) color are not numeric"):
        start(tmp_path / "m")


def iris_with_options(
    folder: Path, iris_xy: tuple[np.ndarray, np.ndarray], **options: str
) -> LogisticRegression:
    """Iris fitted on an array and packaged with these runtime options; the fitted model."""
    x, y = iris_xy
    model = LogisticRegression(max_iter=1000).fit(x, y)
    extra = {"options": options}
    package_model(model, x, folder, name="iris", feature_names=IRIS_NAMES, extra=extra)
    return model


def test_unknown_input_format_is_refused(
    tmp_path: Path, start: Start, iris_xy: tuple[np.ndarray, np.ndarray]
) -> None:
    iris_with_options(tmp_path / "iris", iris_xy, input_format="csv")
    with pytest.raises(ValueError, match="input_format must be dataframe or array, not 'csv'"):
        start(tmp_path / "iris")


def test_misspelt_option_is_refused_at_setup(
    tmp_path: Path, start: Start, iris_xy: tuple[np.ndarray, np.ndarray]
) -> None:
    x, y = iris_xy
    model = LogisticRegression(max_iter=1000).fit(x, y)
    extra = {"options": {"input_fromat": "array"}}
    package_model(model, x, tmp_path / "iris", name="iris", feature_names=IRIS_NAMES, extra=extra)
    with pytest.raises(ValueError, match=r"unknown option\(s\) input_fromat .* input_format"):
        start(tmp_path / "iris")


@pytest.mark.parametrize(("with_names", "expected"), [(True, "dataframe"), (False, "array")])
def test_input_format_defaults_to_how_the_model_was_trained(
    tmp_path: Path,
    start: Start,
    edit_manifest: EditManifest,
    iris_xy: tuple[np.ndarray, np.ndarray],
    with_names: bool,
    expected: str,
) -> None:
    x, y = iris_xy
    data = pd.DataFrame(x, columns=IRIS_NAMES) if with_names else x
    model = LogisticRegression(max_iter=1000).fit(data, y)
    package_model(model, data, tmp_path / "iris", name="iris", feature_names=IRIS_NAMES)
    edit_manifest(tmp_path / "iris", lambda raw: raw.pop("options"))
    runtime = start(tmp_path / "iris")

    assert isinstance(runtime, SklearnRuntime)
    assert runtime.input_format == expected
    assert [o.prediction for o in runtime(iris_rows(x[:3]))] == list(y[:3])


def test_model_error_becomes_prediction_error_naming_model_and_batch(
    tmp_path: Path, start: Start, iris_xy: tuple[np.ndarray, np.ndarray]
) -> None:
    x, y = iris_xy
    model = LogisticRegression(max_iter=1000).fit(x, y)
    package_model(model, x, tmp_path / "iris", name="iris", feature_names=IRIS_NAMES)
    # NOTE: not NaN, which scikit-learn is told it never gets (the request models refuse it).
    rows = [*iris_rows(x[:2]), {**iris_rows(x[:1])[0], "petal_width": "wide"}]
    with pytest.raises(PredictionError, match=r"iris:1 failed on a batch of 3: .*wide") as info:
        start(tmp_path / "iris")(rows)
    assert isinstance(info.value.__cause__, ValueError)


def test_labels_that_do_not_fit_the_probabilities_fail_the_batch(
    tmp_path: Path, start: Start, iris_xy: tuple[np.ndarray, np.ndarray]
) -> None:
    x, y = iris_xy
    model = LogisticRegression(max_iter=1000).fit(x, y)
    package_model(
        model, x, tmp_path / "iris", name="iris", feature_names=IRIS_NAMES, labels=["a", "b"]
    )
    with pytest.raises(PredictionError, match=r"shape \(rows, 2\), got \(1, 3\)"):
        start(tmp_path / "iris")(iris_rows(x[:1]))


def test_naive_datetime_rows_are_read_as_utc(tmp_path: Path, start: Start) -> None:
    frame = pd.DataFrame({"when": pd.to_datetime(["2020-01-01 08:00", "2020-06-01 20:00"])})
    package_model(Ridge(), frame, tmp_path / "m", name="m", task="regression")
    runtime = start(tmp_path / "m")
    batch = runtime.decode([{"when": datetime(2021, 3, 4, 5, 6, tzinfo=UTC)}])
    assert str(batch["when"].dtype) == str(frame["when"].dtype)
    assert batch["when"][0] == pd.Timestamp("2021-03-04 05:06")


def test_a_model_fitted_without_names_is_given_arrays_whatever_its_manifest_says(
    tmp_path: Path, start: Start, iris_xy: tuple[np.ndarray, np.ndarray]
) -> None:
    x, _ = iris_xy
    # As an older servekit packaged such a model from a DataFrame.
    model = iris_with_options(tmp_path / "iris", iris_xy, input_format="dataframe")
    runtime = start(tmp_path / "iris")
    assert isinstance(runtime, SklearnRuntime)
    assert runtime.input_format == "array"
    # pytest turns warnings into errors: scikit-learn's "X has feature names" would fail this.
    assert [o.prediction for o in runtime(iris_rows(x[:5]))] == list(model.predict(x[:5]))
