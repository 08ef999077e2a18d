"""``servekit package forecaster``: fitted statsmodels results and the series they were fitted on."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from servekit import Settings, create_app
from servekit.cli import app
from servekit.examples.forecast import price_series
from servekit.repository.loader import read_manifest


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(app, ["package", *map(str, args)])


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """An ARIMA fitted on the log of a daily price series: its results' pickle and the CSV."""
    from statsmodels.tsa.arima.model import ARIMA

    folder = tmp_path_factory.mktemp("fitted")
    series = price_series()
    results = ARIMA(np.log(series), order=(1, 1, 1), trend="t").fit()
    pickle = folder / "results.pkl"
    results.save(str(pickle))
    csv = folder / "prices.csv"
    series.rename_axis("date").reset_index().to_csv(csv, index=False)
    return pickle, csv


def test_a_forecaster_is_packaged_and_serves_its_forecast(
    fitted: tuple[Path, Path], tmp_path: Path
) -> None:
    pickle, csv = fitted
    out = tmp_path / "models" / "prices"
    result = run(
        "forecaster", "--model", pickle, "--history", csv, "--name", "prices", "--out", out,
        "--unit", "USD", "--min-history", "30", "--max-horizon", "14",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "1096 values from 2023-07-01 to 2026-06-30, frequency D, transform log" in result.stdout
    manifest = read_manifest(out).manifest
    assert manifest.runtime == "statsmodels"
    assert manifest.series is not None
    section = manifest.series
    assert (section.frequency, section.transform, section.value_name) == ("D", "log", "price")
    assert (section.unit, section.min_history, section.max_horizon) == ("USD", 30, 14)
    assert manifest.training_stats is not None
    assert manifest.training_stats.rows == 1096

    settings = Settings(
        model_repository=out.parent, data_dir=tmp_path / "data", allow_anonymous=True
    )
    with TestClient(create_app(settings)) as client:
        answer = client.post("/models/prices/predict", json={"horizon": 3})
        assert answer.status_code == 200, answer.text
        points = answer.json()["predictions"][0]["prediction"]
        assert [p["date"] for p in points] == ["2026-07-01", "2026-07-02", "2026-07-03"]
        last = price_series().iloc[-1]
        for point in points:  # in prices, not in logarithms
            assert 0 < point["lower"] < point["forecast"] < point["upper"]
            assert point["forecast"] == pytest.approx(last, rel=0.1)
        too_far = client.post("/models/prices/predict", json={"horizon": 15})
        assert too_far.status_code == 422


def test_a_transform_the_model_was_not_fitted_with_is_refused(
    fitted: tuple[Path, Path], tmp_path: Path
) -> None:
    pickle, csv = fitted
    result = run(
        "forecaster", "--model", pickle, "--history", csv, "--name", "x", "--out", tmp_path / "x",
        "--transform", "none",
    )  # fmt: skip

    assert result.exit_code == 2
    assert "--transform none: the model was fitted on their logarithm" in result.stderr
    assert not (tmp_path / "x").exists()


def test_a_history_other_than_the_models_is_refused(
    fitted: tuple[Path, Path], tmp_path: Path
) -> None:
    pickle, csv = fitted
    frame = pd.read_csv(csv)
    shorter = tmp_path / "shorter.csv"
    frame.iloc[-100:].to_csv(shorter, index=False)
    result = run("forecaster", "--model", pickle, "--history", shorter, "--name", "x", "--out", tmp_path / "x")  # fmt: skip

    assert result.exit_code == 2
    assert (
        "fitted on 1096 values from 2023-07-01 to 2026-06-30, the history has 100" in result.stderr
    )

    scaled = tmp_path / "scaled.csv"
    frame.assign(price=frame["price"] * 2).to_csv(scaled, index=False)
    result = run("forecaster", "--model", pickle, "--history", scaled, "--name", "x", "--out", tmp_path / "x")  # fmt: skip
    assert result.exit_code == 2
    assert "not fitted on the history's values, nor on their logarithm" in result.stderr


def test_bad_input_is_refused_saying_what_is_wrong(
    fitted: tuple[Path, Path], tmp_path: Path
) -> None:
    pickle, csv = fitted
    not_results = tmp_path / "model.pkl"
    joblib.dump({"a": 1}, not_results)
    wide = tmp_path / "wide.csv"
    pd.read_csv(csv).assign(volume=1.0).to_csv(wide, index=False)
    out = ["--name", "x", "--out", tmp_path / "x"]
    cases = {
        "holds a dict, not the results of a fitted statsmodels": [
            "--model", not_results, "--history", csv,
        ],
        "2 columns besides the dates (date): say which holds the values with --value-column": [
            "--model", pickle, "--history", wide,
        ],
        "has no column 'close'": [
            "--model", pickle, "--history", csv, "--value-column", "close",
        ],
        "--transform takes none or log": [
            "--model", pickle, "--history", csv, "--transform", "sqrt",
        ],
        "frequency 'fortnightly' is not a pandas offset alias": [
            "--model", pickle, "--history", csv, "--frequency", "fortnightly",
        ],
    }  # fmt: skip
    for said, args in cases.items():
        result = run("forecaster", *args, *out)
        assert result.exit_code == 2, (said, result.output)
        assert said in result.stderr, result.stderr
        assert "Traceback" not in result.output

    # The values' column names them: one that cannot needs --value-name.
    renamed = tmp_path / "renamed.csv"
    pd.read_csv(csv).rename(columns={"price": "close price"}).to_csv(renamed, index=False)
    result = run("forecaster", "--model", pickle, "--history", renamed, *out)
    assert result.exit_code == 2
    assert "give --value-name" in result.stderr
    assert not (tmp_path / "x").exists()


def test_a_folder_is_replaced_only_when_asked(fitted: tuple[Path, Path], tmp_path: Path) -> None:
    pickle, csv = fitted
    out = tmp_path / "x"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    args = ["forecaster", "--model", pickle, "--history", csv, "--name", "x", "--out", out]

    refused = run(*args)
    assert refused.exit_code == 2
    assert "is not empty (pass --overwrite to replace it)" in refused.stderr
    assert (out / "keep.txt").exists()
    assert run(*args, "--overwrite").exit_code == 0
    assert not (out / "keep.txt").exists()


def test_options_before_the_command_are_refused(fitted: tuple[Path, Path], tmp_path: Path) -> None:
    pickle, csv = fitted
    result = run(
        "--overwrite", "forecaster", "--model", pickle, "--history", csv, "--name", "x",
        "--out", tmp_path / "x",
    )  # fmt: skip

    assert result.exit_code == 2
    assert "--overwrite before `forecaster` is not one of its options" in result.stderr
