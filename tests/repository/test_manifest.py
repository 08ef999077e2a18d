"""Manifest validation: a bad ``servekit.yaml`` stops start-up naming the file, field and problem."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from servekit.exceptions import ManifestError
from servekit.repository.loader import Repository, read_manifest
from servekit.repository.manifest import MANIFEST_FILE, FeatureType, Task
from servekit.repository.stats import CategoricalStats, DatetimeStats, NumericStats
from tests.repository.conftest import WriteModel, minimal_manifest

NUMERIC_X = {
    "kind": "numeric",
    "count": 10,
    "min": 0.0,
    "max": 1.0,
    "mean": 0.5,
    "std": 0.2,
    "q01": 0.0,
    "q50": 0.5,
    "q99": 1.0,
}


def stats(**changes: Any) -> dict[str, Any]:
    """Valid training statistics of the minimal manifest's features, with fields changed."""
    return {"rows": 10, "features": {"x": NUMERIC_X}, **changes}


def test_minimal_manifest_reads_with_defaults(write_model: WriteModel) -> None:
    folder = write_model()
    model = read_manifest(folder)
    m = model.manifest

    assert model.path == folder
    assert (m.name, m.version, m.key, m.runtime, m.task) == (
        "echo",
        "1",
        "echo:1",
        "python",
        Task.custom,
    )
    assert [(f.name, f.type) for f in m.inputs] == [
        ("x", FeatureType.float),
        ("y", FeatureType.float),
    ]
    assert model.artifact_path() is None
    assert (m.ood.policy, m.ood.range_margin, m.ood.multivariate) == ("warn", 0.1, True)
    assert (m.batching.max_batch_size, m.batching.max_wait_ms) == (64, 10.0)
    assert m.outputs.name == "prediction"
    assert m.training_stats is None


@pytest.mark.parametrize(
    ("manifest", "location", "problem"),
    [
        pytest.param(
            minimal_manifest(inputs=[{"name": "x", "type": "floaty"}]),
            "inputs.0.type",
            "Input should be 'float', 'int', 'string', 'category', 'datetime' or 'bool'",
            id="bad-feature-type",
        ),
        pytest.param(
            minimal_manifest(desciption="typo"),
            "desciption",
            "Extra inputs are not permitted",
            id="top-level-typo",
        ),
        pytest.param(
            minimal_manifest(inputs=[{"name": "x", "type": "float", "minimun": 0}]),
            "inputs.0.minimun",
            "Extra inputs are not permitted",
            id="feature-typo",
        ),
        pytest.param(
            minimal_manifest(ood={"polcy": "reject"}),
            "ood.polcy",
            "Extra inputs are not permitted",
            id="ood-typo",
        ),
        pytest.param(
            minimal_manifest(outputs={"label": ["a"]}),
            "outputs.label",
            "Extra inputs are not permitted",
            id="outputs-typo",
        ),
        pytest.param(
            minimal_manifest(batching={"max_batch_size": 0}),
            "batching.max_batch_size",
            "greater than 0",
            id="batch-size-zero",
        ),
        pytest.param(
            minimal_manifest(ood={"policy": "ignore"}),
            "ood.policy",
            "Input should be 'warn' or 'reject'",
            id="unknown-ood-policy",
        ),
        pytest.param(
            minimal_manifest(ood={"range_margin": -0.1}),
            "ood.range_margin",
            "greater than or equal to 0",
            id="negative-margin",
        ),
        pytest.param(
            minimal_manifest(name="Echo Model"),
            "name",
            "String should match pattern",
            id="bad-name",
        ),
        pytest.param(
            {k: v for k, v in minimal_manifest().items() if k != "runtime"},
            "runtime",
            "Field required",
            id="missing-runtime",
        ),
        pytest.param(
            minimal_manifest(task="clustering"),
            "task",
            "Input should be 'classification'",
            id="unknown-task",
        ),
        pytest.param(
            minimal_manifest(inputs=[]),
            "inputs",
            "a model needs its input features (inputs, at least one), an image, a text or a series",
            id="no-inputs",
        ),
        pytest.param(
            minimal_manifest(image={"size": [8, 8]}),
            "inputs",
            "a model takes one kind of input: tabular features (inputs), an image (image), text "
            "(text) or a series (series), not image and inputs",
            id="inputs-and-image",
        ),
        pytest.param(
            minimal_manifest(series={"frequency": "D"}),
            "inputs",
            "not series and inputs",
            id="inputs-and-series",
        ),
        pytest.param(
            {**minimal_manifest(series={"frequency": "daily"}), "inputs": []},
            "series",
            "frequency 'daily' is not a pandas offset alias",
            id="series-frequency",
        ),
        pytest.param(
            {**minimal_manifest(series={"min_history": 40, "max_history": 30}), "inputs": []},
            "series",
            "min_history (40) is over max_history (30)",
            id="series-history-bounds",
        ),
        pytest.param(
            {
                **minimal_manifest(image={"size": [8, 8], "mode": "L", "mean": [0.5, 0.5]}),
                "inputs": [],
            },
            "image",
            "mean needs 1 value(s) for mode L",
            id="image-mean-channels",
        ),
        pytest.param(
            {**minimal_manifest(image={"size": [8, 8], "formats": ["svg"]}), "inputs": []},
            "image.formats.0",
            "Input should be",
            id="image-unknown-format",
        ),
        pytest.param(
            minimal_manifest(inputs=[{"name": "x", "type": "float"}, {"name": "x", "type": "int"}]),
            "inputs",
            "duplicate input feature(s): x",
            id="duplicate-feature",
        ),
        pytest.param(
            minimal_manifest(inputs=[{"name": "instances", "type": "float"}]),
            "inputs.0",
            "'instances' is reserved for the request body and cannot name a feature",
            id="reserved-feature",
        ),
        pytest.param(
            minimal_manifest(inputs=[{"name": "1x", "type": "float"}]),
            "inputs.0.name",
            "String should match pattern",
            id="bad-feature-name",
        ),
        pytest.param(
            minimal_manifest(inputs=[{"name": "x", "type": "float", "minimum": 5, "maximum": 1}]),
            "inputs.0",
            "minimum 5.0 is greater than maximum 1.0",
            id="minimum-above-maximum",
        ),
        pytest.param(
            minimal_manifest(inputs=[{"name": "x", "type": "category", "minimum": 0}]),
            "inputs.0",
            "minimum/maximum apply to float and int features, not category",
            id="bounds-on-category",
        ),
        pytest.param(
            minimal_manifest(inputs=[{"name": "x", "type": "float", "allowed": ["a"]}]),
            "inputs.0",
            "allowed applies to category and string features, not float",
            id="allowed-on-float",
        ),
        pytest.param(
            minimal_manifest(training_stats=stats(features={"z": NUMERIC_X})),
            "training_stats",
            "training_stats name unknown feature(s): z",
            id="stats-unknown-feature",
        ),
        pytest.param(
            minimal_manifest(
                training_stats=stats(
                    multivariate={
                        "features": ["x", "w"],
                        "mean": [0, 0],
                        "inv_cov": [[1, 0], [0, 1]],
                        "threshold": 3,
                    }
                )
            ),
            "training_stats",
            "training_stats name unknown feature(s): w",
            id="multivariate-unknown-feature",
        ),
        pytest.param(
            minimal_manifest(
                training_stats=stats(
                    multivariate={
                        "features": ["x", "y"],
                        "mean": [0, 0],
                        "inv_cov": [[1, 0]],
                        "threshold": 3,
                    }
                )
            ),
            "training_stats.multivariate",
            "mean and inv_cov must be sized to the 2 features",
            id="multivariate-shape",
        ),
        pytest.param(
            minimal_manifest(
                training_stats=stats(
                    multivariate={
                        "features": ["x", "y"],
                        "mean": [0, 0],
                        "inv_cov": [[1, 0], [0, 1]],
                        "threshold": 0,
                    }
                )
            ),
            "training_stats.multivariate.threshold",
            "greater than 0",
            id="multivariate-threshold",
        ),
    ],
)
def test_invalid_manifest_names_file_field_and_problem(
    write_model: WriteModel, manifest: dict[str, Any], location: str, problem: str
) -> None:
    folder = write_model(manifest=manifest)
    with pytest.raises(ManifestError) as info:
        read_manifest(folder)
    message = str(info.value)
    assert str(folder / MANIFEST_FILE) in message
    assert f"  {location}: " in message
    assert problem in message


def test_invalid_manifest_stops_the_repository_scan(write_model: WriteModel) -> None:
    write_model("good")
    bad = write_model("bad", minimal_manifest(name="other", inputs=[{"name": "x", "type": "text"}]))
    with pytest.raises(
        ManifestError,
        match=rf"{re.escape(str(bad / MANIFEST_FILE))}: invalid manifest\n  inputs\.0\.type",
    ):
        Repository.scan(bad.parent)


def test_yaml_syntax_error_names_the_file(write_model: WriteModel) -> None:
    folder = write_model(manifest="name: echo\ninputs: [unclosed\n")
    with pytest.raises(
        ManifestError,
        match=rf"(?s){re.escape(str(folder / MANIFEST_FILE))}: not valid YAML: .*line 2",
    ):
        read_manifest(folder)


@pytest.mark.parametrize(
    ("text", "kind"), [("- a\n- b\n", "list"), ("", "NoneType"), ("echo\n", "str")]
)
def test_manifest_must_be_a_mapping(write_model: WriteModel, text: str, kind: str) -> None:
    folder = write_model(manifest=text)
    with pytest.raises(
        ManifestError,
        match=rf"{re.escape(str(folder / MANIFEST_FILE))}: expected a mapping of fields, got {kind}$",
    ):
        read_manifest(folder)


def test_folder_without_manifest_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(
        ManifestError, match=rf"{re.escape(str(tmp_path / MANIFEST_FILE))}: no manifest found"
    ):
        read_manifest(tmp_path)


def test_missing_artifact_file_is_an_error(write_model: WriteModel) -> None:
    folder = write_model(manifest=minimal_manifest(runtime="sklearn", artifact="model.joblib"))
    with pytest.raises(ManifestError) as info:
        read_manifest(folder)
    assert str(info.value) == (
        f"{folder / MANIFEST_FILE}: artifact: file {folder / 'model.joblib'} does not exist"
    )


def test_artifact_path_lies_in_the_folder(write_model: WriteModel) -> None:
    folder = write_model(manifest=minimal_manifest(runtime="sklearn", artifact="sub/model.joblib"))
    (folder / "sub").mkdir()
    (folder / "sub" / "model.joblib").write_bytes(b"")
    assert read_manifest(folder).artifact_path() == folder / "sub" / "model.joblib"


def test_training_stats_of_each_kind_are_read(write_model: WriteModel) -> None:
    manifest = minimal_manifest(
        inputs=[
            {"name": "x", "type": "float"},
            {"name": "colour", "type": "category"},
            {"name": "when", "type": "datetime"},
        ],
        training_stats={
            "rows": 10,
            "features": {
                "x": NUMERIC_X,
                "colour": {"kind": "categorical", "count": 10, "categories": {"red": 7, "blue": 3}},
                "when": {
                    "kind": "datetime",
                    "count": 10,
                    "min": "2020-01-01T00:00:00Z",
                    "max": "2020-12-31T12:00:00+00:00",
                },
            },
        },
    )
    training = read_manifest(write_model(manifest=manifest)).manifest.training_stats

    assert training is not None
    x, colour, when = (training.features[n] for n in ("x", "colour", "when"))
    assert isinstance(x, NumericStats)
    assert (x.min, x.max) == (0.0, 1.0)
    assert isinstance(colour, CategoricalStats)
    assert colour.categories == {"red": 7, "blue": 3}
    assert isinstance(when, DatetimeStats)
    assert when.min == datetime(2020, 1, 1, tzinfo=UTC)
    assert when.max == datetime(2020, 12, 31, 12, tzinfo=UTC)
