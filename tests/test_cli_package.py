"""``servekit package`` on what training scripts really leave: dates in a CSV, and a pipeline that
holds a function of the training code."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import joblib
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from typer.testing import CliRunner

import __main__
from servekit import Settings, create_app
from servekit.cli import app
from servekit.repository.loader import read_manifest
from servekit.repository.manifest import FeatureType

MODULE = "servekit_test_ride_features"
FEATURES_PY = '''
def hour_and_size(frame):
    """The pickup hour (the column must be parsed dates) and the party's size."""
    return frame.assign(hour=frame["pickup"].dt.hour)[["hour", "passengers"]]
'''


@pytest.fixture
def rides(tmp_path: Path) -> Iterator[tuple[Path, Path, Path]]:
    """A CSV of rides, the module of the training code, and the fitted pipeline's pickle."""
    code = tmp_path / "code" / f"{MODULE}.py"
    code.parent.mkdir()
    code.write_text(FEATURES_PY)
    csv = tmp_path / "rides.csv"
    hours = [h % 24 for h in range(60)]
    pd.DataFrame(
        {
            "pickup": [f"2013-07-06 {h:02d}:18:00" for h in hours],
            "passengers": [1 + h % 4 for h in hours],
            "fare": [5.0 + 0.5 * h for h in hours],
        }
    ).to_csv(csv, index=False)
    sys.path.insert(0, str(code.parent))
    try:
        features = __import__(MODULE)
        frame = pd.read_csv(csv, parse_dates=["pickup"])
        pipeline = make_pipeline(FunctionTransformer(features.hour_and_size), LinearRegression())
        pipeline.fit(frame.drop(columns=["fare"]), frame["fare"])
        pickle = tmp_path / "model.joblib"
        joblib.dump(pipeline, pickle)
    finally:
        sys.path.remove(str(code.parent))
        sys.modules.pop(MODULE, None)  # as in a new process: the module is not there
    yield csv, code, pickle
    sys.modules.pop(MODULE, None)


def package(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["package", *map(str, args)])
    return result.exit_code, result.output


def test_a_pipeline_with_training_code_is_served_from_its_folder(
    rides: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    csv, code, pickle = rides
    out = tmp_path / "models" / "fare"
    base = ["--model", pickle, "--data", csv, "--target", "fare", "--name", "fare", "--out", out]
    code_opt = ["--code", code]

    # Without the module: one line that says what to do, not a traceback.
    status, said = package(*base, "--datetime", "pickup")
    assert status == 2
    assert "--code" in said
    assert "Traceback" not in said

    # Dates read as text would be served as text: said, with the option that fixes it.
    status, said = package(*base, *code_opt)
    assert status == 0, said
    assert "--datetime pickup" in said
    status, said = package(*base, *code_opt, "--datetime", "pickup", "--overwrite")
    assert status == 0, said
    folder = read_manifest(out)
    assert {f.name: f.type for f in folder.manifest.inputs}["pickup"] is FeatureType.datetime
    assert (out / code.name).is_file()  # the module travels with the model
    sys.modules.pop(MODULE)  # the CLI imported it from code/: a server is another process

    app_ = create_app(
        Settings(model_repository=out.parent, data_dir=tmp_path / "data", allow_anonymous=True)
    )
    with TestClient(app_) as client:  # no PYTHONPATH: found in the model folder
        ok = client.post(
            "/models/fare/predict", json={"pickup": "2013-07-06T10:18:00", "passengers": 2}
        )
        assert ok.status_code == 200, ok.text
        assert ok.json()["predictions"][0]["prediction"] == pytest.approx(10.0, abs=0.5)
        bad = client.post("/models/fare/predict", json={"pickup": "not a date", "passengers": 2})
        assert bad.status_code == 422  # refused before the model, not a 500 from inside it


def test_a_function_of_the_training_script_itself_gets_one_line_of_advice(
    tmp_path: Path,
) -> None:
    def shift(x: object) -> object:
        return x

    shift.__module__, shift.__qualname__ = "__main__", "shift"
    __main__.shift = shift  # type: ignore[attr-defined]  # as if defined in train.py
    try:
        frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "y": [1.0, 2.0, 3.0]})
        model = make_pipeline(FunctionTransformer(shift), LinearRegression())
        model.fit(frame[["a"]], frame["y"])
        joblib.dump(model, tmp_path / "model.joblib")
        frame.to_csv(tmp_path / "data.csv", index=False)
    finally:
        del __main__.shift  # type: ignore[attr-defined]
    status, said = package(
        "--model", tmp_path / "model.joblib", "--data", tmp_path / "data.csv",
        "--target", "y", "--name", "m", "--out", tmp_path / "m",
    )  # fmt: skip
    assert status == 2
    assert "'shift'" in said
    assert "script that trained it" in said
    assert "Traceback" not in said


def test_a_folder_without_the_module_its_pickle_needs_says_so_at_start(
    rides: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    from servekit.exceptions import ModelLoadError

    csv, code, pickle = rides
    out = tmp_path / "models" / "fare"
    args = ["--model", pickle, "--data", csv, "--target", "fare", "--name", "fare", "--out", out]
    status, said = package(*args, "--code", code, "--datetime", "pickup")
    assert status == 0, said
    sys.modules.pop(MODULE)
    (out / code.name).unlink()
    app_ = create_app(Settings(model_repository=out.parent, data_dir=tmp_path / "data"))
    with (
        pytest.raises(ModelLoadError, match=f"needs the module '{MODULE}'.*--code"),
        TestClient(app_),
    ):
        pass
