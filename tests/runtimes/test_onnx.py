"""The ONNX runtime: scikit-learn models converted with skl2onnx, served through onnxruntime."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from skl2onnx import to_onnx
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline

from servekit import package_model
from servekit.repository.manifest import Task
from servekit.runtimes.onnx import OnnxRuntime
from tests.runtimes.conftest import IRIS_NAMES, Start, iris_rows

SPECIES = ["setosa", "versicolor", "virginica"]


@pytest.fixture(scope="module")
def classifier(iris_xy: tuple[np.ndarray, np.ndarray]) -> LogisticRegression:
    """A logistic regression on iris (species by name), fitted on a float matrix."""
    x, y = iris_xy
    return LogisticRegression(max_iter=1000).fit(x, y)


def convert(model: Any, x: Any, *, zipmap: bool | None = False) -> Any:
    """The ONNX graph of a fitted model; without ZipMap, probabilities come as one matrix.

    ``zipmap=None`` is for regressors, which have no such option.
    """
    options = {} if zipmap is not False else {id(model): {"zipmap": False}}
    return to_onnx(model, x[:1].astype(np.float32), options=options)


def package_classifier(graph: Any, x: np.ndarray, folder: Path, **changes: Any) -> Path:
    """Package an iris graph as ``runtime: onnx`` (labels given, task left to inference)."""
    kwargs: dict[str, Any] = {
        "name": "iris-onnx",
        "runtime": "onnx",
        "labels": SPECIES,
        "feature_names": IRIS_NAMES,
        **changes,
    }
    package_model(graph, x, folder, **kwargs)
    return folder


def test_classifier_graph_gives_labels_and_probabilities(
    tmp_path: Path,
    start: Start,
    classifier: LogisticRegression,
    iris_xy: tuple[np.ndarray, np.ndarray],
) -> None:
    x, _ = iris_xy
    folder = package_classifier(convert(classifier, x), x, tmp_path / "iris")
    runtime = start(folder)
    outputs = runtime(iris_rows(x))

    assert isinstance(runtime, OnnxRuntime)
    assert runtime.manifest.task is Task.classification
    assert (runtime.label_output, runtime.probabilities_output) == ("label", "probabilities")
    assert [o.prediction for o in outputs] == list(classifier.predict(x))
    for out in outputs:
        assert out.probabilities is not None
        assert list(out.probabilities) == SPECIES
        assert sum(out.probabilities.values()) == pytest.approx(1.0, abs=1e-5)


def test_onnx_and_sklearn_agree_on_the_same_rows(
    tmp_path: Path,
    start: Start,
    classifier: LogisticRegression,
    iris_xy: tuple[np.ndarray, np.ndarray],
) -> None:
    x, _ = iris_xy
    package_classifier(convert(classifier, x), x, tmp_path / "onnx")
    package_model(classifier, x, tmp_path / "sklearn", name="iris", feature_names=IRIS_NAMES)
    rows = iris_rows(x[::3])
    by_onnx, by_sklearn = start(tmp_path / "onnx")(rows), start(tmp_path / "sklearn")(rows)

    assert [o.prediction for o in by_onnx] == [o.prediction for o in by_sklearn]
    for a, b in zip(by_onnx, by_sklearn, strict=True):
        assert a.probabilities is not None
        assert b.probabilities is not None
        assert a.probabilities == pytest.approx(b.probabilities, abs=1e-5)


def test_zipmap_probabilities_are_read_too(
    tmp_path: Path,
    start: Start,
    classifier: LogisticRegression,
    iris_xy: tuple[np.ndarray, np.ndarray],
) -> None:
    x, _ = iris_xy
    folder = package_classifier(convert(classifier, x, zipmap=True), x, tmp_path / "iris")
    outputs = start(folder)(iris_rows(x[48:53]))

    assert [o.prediction for o in outputs] == list(classifier.predict(x[48:53]))
    assert all(
        o.probabilities is not None and set(o.probabilities) == set(SPECIES) for o in outputs
    )


def test_regressor_graph_gives_plain_floats(
    tmp_path: Path, start: Start, iris_xy: tuple[np.ndarray, np.ndarray]
) -> None:
    x, _ = iris_xy
    model = LinearRegression().fit(x[:, :3], x[:, 3])
    package_model(
        convert(model, x[:, :3], zipmap=None),
        x[:, :3],
        tmp_path / "width",
        name="width",
        runtime="onnx",
        feature_names=IRIS_NAMES[:3],
    )
    runtime = start(tmp_path / "width")
    rows = [dict(zip(IRIS_NAMES[:3], map(float, r), strict=True)) for r in x[:10, :3]]
    outputs = runtime(rows)

    assert runtime.manifest.task is Task.regression
    assert all(type(o.prediction) is float and o.probabilities is None for o in outputs)
    assert [o.prediction for o in outputs] == pytest.approx(
        list(model.predict(x[:10, :3])), abs=1e-4
    )


def test_output_options_pick_the_outputs_by_name(
    tmp_path: Path,
    start: Start,
    classifier: LogisticRegression,
    iris_xy: tuple[np.ndarray, np.ndarray],
) -> None:
    x, _ = iris_xy
    graph = convert(classifier, x)
    # The probabilities first: by default they would be taken for the label.
    outputs = list(graph.graph.output)
    del graph.graph.output[:]
    graph.graph.output.extend(reversed(outputs))
    options = {"label_output": "label", "probabilities_output": "probabilities"}
    folder = package_classifier(graph, x, tmp_path / "iris", extra={"options": options})
    results = start(folder)(iris_rows(x[95:105]))

    assert [o.prediction for o in results] == list(classifier.predict(x[95:105]))
    assert all(o.probabilities is not None for o in results)


def test_without_a_probabilities_output_only_labels_are_given(
    tmp_path: Path,
    start: Start,
    classifier: LogisticRegression,
    iris_xy: tuple[np.ndarray, np.ndarray],
) -> None:
    x, _ = iris_xy
    options = {"probabilities_output": None}
    folder = package_classifier(
        convert(classifier, x), x, tmp_path / "iris", extra={"options": options}
    )
    results = start(folder)(iris_rows(x[:3]))

    assert [(o.prediction, o.probabilities) for o in results] == [
        (label, None) for label in classifier.predict(x[:3])
    ]


@pytest.mark.parametrize("option", ["label_output", "probabilities_output"])
def test_option_naming_a_missing_output_is_refused_at_setup(
    tmp_path: Path,
    start: Start,
    classifier: LogisticRegression,
    iris_xy: tuple[np.ndarray, np.ndarray],
    option: str,
) -> None:
    x, _ = iris_xy
    extra = {"options": {option: "output_label"}}
    folder = package_classifier(convert(classifier, x), x, tmp_path / "iris", extra=extra)
    with pytest.raises(
        ValueError, match="has no output 'output_label'; outputs: label, probabilities"
    ):
        start(folder)


def test_misspelt_option_is_refused_at_setup(
    tmp_path: Path,
    start: Start,
    classifier: LogisticRegression,
    iris_xy: tuple[np.ndarray, np.ndarray],
) -> None:
    x, _ = iris_xy
    extra = {"options": {"lable_output": "label"}}
    folder = package_classifier(convert(classifier, x), x, tmp_path / "iris", extra=extra)
    with pytest.raises(ValueError, match=r"unknown option\(s\) lable_output for the onnx runtime"):
        start(folder)


def test_single_input_graph_refuses_non_numeric_features(
    tmp_path: Path,
    start: Start,
    classifier: LogisticRegression,
    iris_xy: tuple[np.ndarray, np.ndarray],
) -> None:
    x, _ = iris_xy
    overrides = {"petal_width": {"type": "string"}}
    folder = package_classifier(convert(classifier, x), x, tmp_path / "iris", overrides=overrides)
    with pytest.raises(ValueError, match=r"feature\(s\) petal_width are not numeric"):
        start(folder)


def test_graph_with_one_input_per_column_takes_each_feature(
    tmp_path: Path, start: Start, iris_xy: tuple[np.ndarray, np.ndarray]
) -> None:
    x, y = iris_xy
    frame = pd.DataFrame(x, columns=IRIS_NAMES).astype(np.float32)
    model = make_pipeline(
        make_column_transformer(("passthrough", IRIS_NAMES)), LogisticRegression(max_iter=1000)
    ).fit(frame, y)
    graph = to_onnx(model, frame[:1], options={id(model[-1]): {"zipmap": False}})
    package_model(graph, frame, tmp_path / "iris", name="iris", runtime="onnx", labels=SPECIES)
    runtime = start(tmp_path / "iris")

    assert isinstance(runtime, OnnxRuntime)
    assert sorted(i.name for i in runtime.inputs) == sorted(IRIS_NAMES)
    assert [o.prediction for o in runtime(iris_rows(x[::10]))] == list(model.predict(frame[::10]))


def test_graph_inputs_must_match_the_features(
    tmp_path: Path, start: Start, iris_xy: tuple[np.ndarray, np.ndarray]
) -> None:
    x, y = iris_xy
    frame = pd.DataFrame(x[:, :2], columns=IRIS_NAMES[:2]).astype(np.float32)
    model = make_pipeline(
        make_column_transformer(("passthrough", IRIS_NAMES[:2])), LogisticRegression()
    ).fit(frame, y)
    graph = to_onnx(model, frame[:1], options={id(model[-1]): {"zipmap": False}})
    renamed = frame.rename(columns={"sepal_width": "width"})
    package_model(graph, renamed, tmp_path / "iris", name="iris", runtime="onnx", labels=SPECIES)
    with pytest.raises(ValueError, match="do not match the manifest's features"):
        start(tmp_path / "iris")


def test_onnx_file_path_is_copied_into_the_folder(
    tmp_path: Path,
    start: Start,
    classifier: LogisticRegression,
    iris_xy: tuple[np.ndarray, np.ndarray],
) -> None:
    x, _ = iris_xy
    source = tmp_path / "exported.onnx"
    source.write_bytes(convert(classifier, x).SerializeToString())
    folder = package_classifier(source, x, tmp_path / "iris")

    assert (folder / "model.onnx").read_bytes() == source.read_bytes()
    assert [o.prediction for o in start(folder)(iris_rows(x[-2:]))] == list(
        classifier.predict(x[-2:])
    )
