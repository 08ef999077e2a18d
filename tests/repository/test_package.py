"""Packaging a fitted model: inferred schema, training statistics, and a folder that serves."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from skl2onnx import to_onnx
from sklearn.compose import make_column_transformer
from sklearn.datasets import load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from servekit import package_model
from servekit.exceptions import ManifestError
from servekit.repository.loader import ModelFolder, read_manifest
from servekit.repository.manifest import MANIFEST_FILE, FeatureType, Task
from servekit.repository.stats import CategoricalStats, DatetimeStats, NumericStats
from servekit.runtimes.base import Row, RowOutput
from servekit.runtimes.registry import runtime_class

IRIS_NAMES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
ROWS = 120


def mixed_frame() -> pd.DataFrame:
    """One column of each kind packaging tells apart."""
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "size": rng.normal(10.0, 2.0, ROWS),
            "count": rng.integers(1, 7, ROWS).astype("int64"),
            "flag": rng.random(ROWS) > 0.3,
            "when": pd.date_range("2021-03-01 08:00", periods=ROWS, freq="6h", tz="UTC"),
            "colour": pd.Series(rng.choice(["red", "green", "blue"], ROWS), dtype=object),
            "note": [f"note number {i}" for i in range(ROWS)],
        }
    )


def mixed_classifier(frame: pd.DataFrame) -> Any:
    """A pipeline that reads some columns of the mixed frame by name."""
    target = np.where(frame["size"] > 10, "large", "small")
    return make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), ["colour"]),
            ("passthrough", ["size", "count", "flag"]),
        ),
        LogisticRegression(max_iter=1000),
    ).fit(frame, target)


def iris() -> tuple[np.ndarray, np.ndarray]:
    """The iris measurements and species names."""
    data = load_iris()
    return data.data, data.target_names[data.target]


def predict(model: ModelFolder, rows: list[Row]) -> list[RowOutput]:
    """Serve a packaged folder through its runtime."""
    runtime = runtime_class(model.manifest.runtime)(model)
    runtime.setup()
    return runtime(rows)


def as_rows(frame: pd.DataFrame) -> list[Row]:
    """Frame rows as validated API rows (datetimes as Python datetimes in UTC)."""
    return [
        {str(k): v.to_pydatetime() if isinstance(v, pd.Timestamp) else v for k, v in r.items()}
        for r in frame.to_dict("records")
    ]


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, Any, ModelFolder]:
    """The mixed frame, its classifier and the folder packaged from them (read-only)."""
    frame = mixed_frame()
    model = mixed_classifier(frame)
    folder = tmp_path_factory.mktemp("package") / "mixed"
    return frame, model, package_model(model, frame, folder, name="mixed", version="2")


def test_feature_types_and_dtypes_are_inferred_from_the_frame(
    mixed: tuple[pd.DataFrame, Any, ModelFolder],
) -> None:
    frame, _, packaged = mixed
    inputs = packaged.manifest.inputs

    assert [f.name for f in inputs] == list(frame.columns)
    assert {f.name: f.type for f in inputs} == {
        "size": FeatureType.float,
        "count": FeatureType.int,
        "flag": FeatureType.bool,
        "when": FeatureType.datetime,
        "colour": FeatureType.category,
        "note": FeatureType.string,
    }
    assert {f.name: f.dtype for f in inputs} == {c: str(frame[c].dtype) for c in frame.columns}
    assert str(inputs[3].dtype).endswith(", UTC]")


def test_example_is_the_first_row_in_json_values(
    mixed: tuple[pd.DataFrame, Any, ModelFolder],
) -> None:
    frame, _, packaged = mixed
    examples = {f.name: f.example for f in packaged.manifest.inputs}
    first = frame.iloc[0]

    assert examples == {
        "size": float(first["size"]),
        "count": int(first["count"]),
        "flag": bool(first["flag"]),
        "when": "2021-03-01T08:00:00+00:00",
        "colour": first["colour"],
        "note": "note number 0",
    }
    assert type(examples["count"]) is int
    assert type(examples["flag"]) is bool


def test_categorical_pandas_column_is_a_category(tmp_path: Path) -> None:
    frame = pd.DataFrame({"size": [1.0, 2.0, 3.0], "kind": pd.Categorical(["a", "b", "a"])})
    packaged = package_model(Ridge(), frame, tmp_path / "m", name="m")
    assert [(f.type, f.dtype) for f in packaged.manifest.inputs] == [
        (FeatureType.float, "float64"),
        (FeatureType.category, "category"),
    ]


def test_statistics_are_kept_per_feature(mixed: tuple[pd.DataFrame, Any, ModelFolder]) -> None:
    frame, _, packaged = mixed
    training = packaged.manifest.training_stats
    assert training is not None
    assert training.rows == ROWS

    size = training.features["size"]
    assert isinstance(size, NumericStats)
    values = frame["size"].to_numpy()
    q01, q50, q99 = np.quantile(values, [0.01, 0.5, 0.99])
    assert size.count == ROWS
    assert (size.min, size.max) == (values.min(), values.max())
    assert size.mean == pytest.approx(values.mean())
    assert size.std == pytest.approx(values.std())
    assert (size.q01, size.q50, size.q99) == pytest.approx((q01, q50, q99))

    count = training.features["count"]
    assert isinstance(count, NumericStats)
    assert (count.min, count.max) == (frame["count"].min(), frame["count"].max())

    flag = training.features["flag"]
    assert isinstance(flag, CategoricalStats)
    assert flag.categories == {
        "true": int(frame["flag"].sum()),
        "false": int((~frame["flag"]).sum()),
    }

    colour = training.features["colour"]
    assert isinstance(colour, CategoricalStats)
    assert colour.count == ROWS
    assert colour.categories == frame["colour"].value_counts().to_dict()

    when = training.features["when"]
    assert isinstance(when, DatetimeStats)
    assert when.min == frame["when"].min().to_pydatetime()
    assert when.max == frame["when"].max().to_pydatetime()
    assert when.min.tzinfo is not None


def test_multivariate_reference_covers_the_numeric_features(
    mixed: tuple[pd.DataFrame, Any, ModelFolder],
) -> None:
    frame, _, packaged = mixed
    training = packaged.manifest.training_stats
    assert training is not None
    mv = training.multivariate
    assert mv is not None

    x = frame[["size", "count"]].to_numpy(dtype=float)
    inv_cov = np.linalg.pinv(np.cov(x, rowvar=False))
    diff = x - x.mean(axis=0)
    distances = np.sqrt(np.einsum("ij,jk,ik->i", diff, inv_cov, diff))
    assert mv.features == ["size", "count"]
    np.testing.assert_allclose(mv.mean, x.mean(axis=0))
    np.testing.assert_allclose(mv.inv_cov, inv_cov)
    assert mv.threshold > distances.max()


def test_frame_model_reads_a_dataframe_and_learns_its_labels(
    mixed: tuple[pd.DataFrame, Any, ModelFolder],
) -> None:
    _, _, packaged = mixed
    m = packaged.manifest

    assert (m.name, m.version, m.runtime, m.task) == ("mixed", "2", "sklearn", Task.classification)
    assert m.options == {"input_format": "dataframe"}
    assert m.outputs.labels == ["large", "small"]
    assert packaged.artifact_path() == packaged.path / "model.joblib"


def test_written_folder_round_trips_and_serves(
    mixed: tuple[pd.DataFrame, Any, ModelFolder],
) -> None:
    frame, model, packaged = mixed
    again = read_manifest(packaged.path)
    outputs = predict(again, as_rows(frame.head(20)))

    assert again.manifest == packaged.manifest
    assert [o.prediction for o in outputs] == list(model.predict(frame.head(20)))


def test_array_with_feature_names(tmp_path: Path) -> None:
    x, y = iris()
    model = LogisticRegression(max_iter=1000).fit(x, y)
    packaged = package_model(model, x, tmp_path / "iris", name="iris", feature_names=IRIS_NAMES)
    m = packaged.manifest

    assert [(f.name, f.type, f.dtype) for f in m.inputs] == [
        (n, FeatureType.float, None) for n in IRIS_NAMES
    ]
    assert [f.example for f in m.inputs] == list(x[0])
    assert m.options == {"input_format": "array"}
    assert m.outputs.labels == ["setosa", "versicolor", "virginica"]
    rows = [dict(zip(IRIS_NAMES, map(float, r), strict=True)) for r in x[::15]]
    assert [o.prediction for o in predict(packaged, rows)] == list(model.predict(x[::15]))


def test_array_without_names_gets_numbered_features(tmp_path: Path) -> None:
    x, _ = iris()
    packaged = package_model(Ridge().fit(x[:, :3], x[:, 3]), x[:, :3], tmp_path / "m", name="m")
    assert [f.name for f in packaged.manifest.inputs] == ["f0", "f1", "f2"]


@pytest.mark.parametrize(
    ("data", "names", "problem"),
    [
        (np.zeros(5), None, r"must be 2-D \(rows, features\), got shape \(5,\)"),
        (np.zeros((5, 3)), ["a", "b"], "2 feature names for 3 columns"),
    ],
)
def test_bad_arrays_are_refused(
    tmp_path: Path, data: np.ndarray, names: list[str] | None, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        package_model(Ridge(), data, tmp_path / "m", name="m", feature_names=names)
    assert not (tmp_path / "m").exists()


def test_regression_task_is_inferred(tmp_path: Path) -> None:
    x, _ = iris()
    model = Ridge().fit(x[:, :3], x[:, 3])
    packaged = package_model(
        model, x[:, :3], tmp_path / "m", name="m", feature_names=IRIS_NAMES[:3]
    )

    assert packaged.manifest.task is Task.regression
    assert packaged.manifest.outputs.labels is None
    rows = [dict(zip(IRIS_NAMES[:3], map(float, r), strict=True)) for r in x[:5, :3]]
    assert [o.prediction for o in predict(packaged, rows)] == pytest.approx(
        list(model.predict(x[:5, :3]))
    )


def test_overrides_are_merged_into_the_inferred_features(tmp_path: Path) -> None:
    frame = mixed_frame()
    overrides: dict[str, dict[str, Any]] = {
        "size": {"minimum": 0.0, "maximum": 100.0, "description": "Size in cm"},
        "colour": {"allowed": ["red", "green", "blue"]},
    }
    packaged = package_model(
        mixed_classifier(frame), frame, tmp_path / "m", name="m", overrides=overrides
    )
    features = {f.name: f for f in packaged.manifest.inputs}

    size = features["size"]
    assert (size.type, size.dtype, size.minimum, size.maximum, size.description) == (
        FeatureType.float,
        "float64",
        0.0,
        100.0,
        "Size in cm",
    )
    assert features["colour"].allowed == ["red", "green", "blue"]
    assert features["count"].minimum is None


def test_override_of_an_unknown_column_is_refused(tmp_path: Path) -> None:
    frame = mixed_frame()
    with pytest.raises(ValueError, match=r"overrides name unknown column\(s\): colur, szie"):
        package_model(
            Ridge(),
            frame,
            tmp_path / "m",
            name="m",
            overrides={"szie": {"minimum": 0}, "colur": {"allowed": ["red"]}},
        )


def test_extra_fields_are_merged_into_the_manifest(
    tmp_path: Path, mixed: tuple[pd.DataFrame, Any, ModelFolder]
) -> None:
    frame, model, _ = mixed
    extra = {
        "outputs": {"name": "size_class", "unit": "class"},
        "ood": {"policy": "reject", "multivariate": False},
        "batching": {"max_batch_size": 8},
    }
    m = package_model(model, frame, tmp_path / "m", name="m", description="d", extra=extra).manifest

    assert (m.outputs.name, m.outputs.unit, m.outputs.labels) == (
        "size_class",
        "class",
        ["large", "small"],
    )
    assert (m.ood.policy, m.ood.multivariate, m.batching.max_batch_size) == ("reject", False, 8)
    assert m.description == "d"


def test_invalid_manifest_is_refused_and_the_old_folder_kept(
    tmp_path: Path, mixed: tuple[pd.DataFrame, Any, ModelFolder]
) -> None:
    frame, model, packaged = mixed
    folder = tmp_path / "m"
    shutil.copytree(packaged.path, folder)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    with pytest.raises(
        ManifestError, match=r"the manifest for m would be invalid: (?s:.*)ood\.polcy"
    ):
        package_model(
            model, frame, folder, name="m", extra={"ood": {"polcy": "reject"}}, overwrite=True
        )
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_bad_data_with_overwrite_keeps_the_old_folder(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "model.joblib").write_bytes(b"served")
    with pytest.raises(ValueError, match="unknown column"):
        package_model(Ridge(), mixed_frame(), folder, name="m", overrides={"x": {}}, overwrite=True)
    assert (folder / "model.joblib").read_bytes() == b"served"


def test_non_empty_folder_is_refused_unless_overwrite(tmp_path: Path) -> None:
    x, y = iris()
    model = LogisticRegression(max_iter=1000).fit(x, y)
    folder = tmp_path / "iris"
    folder.mkdir()
    (folder / "stale.txt").write_text("from an older model", encoding="utf-8")

    with pytest.raises(FileExistsError, match="is not empty"):
        package_model(model, x, folder, name="iris", feature_names=IRIS_NAMES)
    assert sorted(p.name for p in folder.iterdir()) == ["stale.txt"]

    package_model(model, x, folder, name="iris", feature_names=IRIS_NAMES, overwrite=True)
    assert sorted(p.name for p in folder.iterdir()) == ["model.joblib", MANIFEST_FILE]


def test_empty_existing_folder_is_used(tmp_path: Path) -> None:
    x, _ = iris()
    (tmp_path / "m").mkdir()
    package_model(Ridge().fit(x, x[:, 0]), x, tmp_path / "m", name="m")
    assert (tmp_path / "m" / MANIFEST_FILE).is_file()


def test_python_runtime_is_not_packaged(tmp_path: Path) -> None:
    x, _ = iris()
    with pytest.raises(ValueError, match="for 'python', write the folder yourself"):
        package_model(Ridge(), x, tmp_path / "m", name="m", runtime="python")


def test_onnx_classifier_is_packaged_with_its_labels(tmp_path: Path) -> None:
    x, y = iris()
    model = LogisticRegression(max_iter=1000).fit(x, y)
    graph = to_onnx(model, x[:1].astype(np.float32), options={id(model): {"zipmap": False}})
    species = ["setosa", "versicolor", "virginica"]
    packaged = package_model(
        graph,
        x,
        tmp_path / "iris",
        name="iris",
        runtime="onnx",
        labels=species,
        feature_names=IRIS_NAMES,
    )
    m = packaged.manifest

    assert (m.runtime, m.artifact, m.task, m.outputs.labels) == (
        "onnx",
        "model.onnx",
        Task.classification,
        species,
    )
    assert m.options == {}
    rows = [dict(zip(IRIS_NAMES, map(float, r), strict=True)) for r in x[::7]]
    outputs = predict(packaged, rows)
    assert [o.prediction for o in outputs] == list(model.predict(x[::7]))
    assert all(o.probabilities is not None and list(o.probabilities) == species for o in outputs)


def test_onnx_regressor_is_packaged_as_regression(tmp_path: Path) -> None:
    x, _ = iris()
    model = LinearRegression().fit(x[:, :3], x[:, 3])
    graph = to_onnx(model, x[:1, :3].astype(np.float32))
    packaged = package_model(graph, x[:, :3], tmp_path / "m", name="m", runtime="onnx")
    assert packaged.manifest.task is Task.regression
    assert packaged.manifest.outputs.labels is None


def test_a_model_fitted_on_an_array_is_given_arrays_when_packaged_from_a_frame(
    tmp_path: Path,
) -> None:
    x, y = iris()
    model = LogisticRegression(max_iter=1000).fit(x, y)  # no feature names
    frame = pd.DataFrame(x, columns=IRIS_NAMES)
    packaged = package_model(model, frame, tmp_path / "iris", name="iris")
    assert packaged.manifest.options == {"input_format": "array"}
    rows = [dict(zip(IRIS_NAMES, map(float, r), strict=True)) for r in x[::15]]
    # pytest turns warnings into errors: scikit-learn's "X has feature names" would fail this.
    assert [o.prediction for o in predict(packaged, rows)] == list(model.predict(x[::15]))
