"""The serving path with a plain Python model: off the event loop, errors reported cleanly."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from servekit.drift.ood import OODWarning
from servekit.exceptions import ModelLoadError, RuntimeNotFound
from servekit.ids import new_id
from servekit.runtimes.base import RowOutput
from servekit.serving.service import Prediction, answer_json
from servekit.storage.db import Database, default_url
from servekit.storage.tables import PredictionRecord
from tests.conftest import AppFactory

MODEL_CODE = '''
import asyncio
import threading


class Probe:
    """Says, for each row, whether it ran on a thread with a running event loop."""

    def predict(self, rows):
        try:
            asyncio.get_running_loop()
            on_loop = True
        except RuntimeError:
            on_loop = False
        if any(r["x"] < 0 for r in rows):
            raise ValueError("negative x")
        return [{"prediction": r["x"] * 2, "on_loop": on_loop, "thread": threading.current_thread().name} for r in rows]
'''


def probe_repo(tmp_path: Path, max_batch_size: int = 64) -> Path:
    folder = tmp_path / "probe"
    folder.mkdir()
    (folder / "probe.py").write_text(MODEL_CODE)
    manifest = {
        "name": "probe",
        "runtime": "python",
        "entrypoint": "probe:Probe",
        "task": "regression",
        "inputs": [{"name": "x", "type": "float", "example": 1.5}],
        "batching": {"max_batch_size": max_batch_size},
    }
    (folder / "servekit.yaml").write_text(yaml.safe_dump(manifest))
    return tmp_path


def test_model_code_never_runs_on_the_event_loop(tmp_path: Path, make_app: AppFactory) -> None:
    with TestClient(make_app(model_repository=probe_repo(tmp_path))) as client:
        response = client.post("/models/probe/predict", json={"x": 2.0})
    assert response.status_code == 200
    [row] = response.json()["predictions"]
    assert row["prediction"] == 4.0
    assert row["on_loop"] is False


def test_large_requests_are_split_into_model_calls_of_max_batch_size(
    tmp_path: Path, make_app: AppFactory
) -> None:
    with TestClient(make_app(model_repository=probe_repo(tmp_path, max_batch_size=4))) as client:
        response = client.post(
            "/models/probe/predict", json={"instances": [{"x": float(i)} for i in range(10)]}
        )
    assert [r["prediction"] for r in response.json()["predictions"]] == [2.0 * i for i in range(10)]


def test_a_failing_model_gives_500_with_a_message_and_the_server_goes_on(
    tmp_path: Path, make_app: AppFactory
) -> None:
    with TestClient(
        make_app(model_repository=probe_repo(tmp_path)), raise_server_exceptions=False
    ) as client:
        failed = client.post("/models/probe/predict", json={"x": -1.0})
        assert client.post("/models/probe/predict", json={"x": 1.0}).status_code == 200
    assert failed.status_code == 500
    assert failed.json() == {
        "error": "prediction_failed",
        "message": "the model failed on this request; the error is logged",
    }


def test_a_row_answered_with_nan_or_infinity_is_a_422_naming_it_and_is_not_logged(
    tmp_path: Path, make_app: AppFactory
) -> None:
    # The probe doubles x: 1e308 is a valid input whose answer overflows to infinity.
    with TestClient(make_app(model_repository=probe_repo(tmp_path))) as client:
        assert client.post("/models/probe/predict", json={"x": 1.0}).status_code == 200
        refused = client.post(
            "/models/probe/predict", json={"instances": [{"x": 1.0}, {"x": 1e308}]}
        )
    assert refused.status_code == 422
    body = json.loads(refused.text, parse_constant=_no_constant)
    assert body["error"] == "non_finite_output"
    assert "row 1: prediction = inf" in body["message"]
    assert body["detail"] == [
        {
            "loc": ["row", 1, "prediction"],
            "msg": "the model's prediction is inf, not a finite number",
            "type": "non_finite_output",
        }
    ]
    assert logged_rows(tmp_path / "data") == 1  # the answered row; none of the refused request


def _no_constant(name: str) -> None:
    raise AssertionError(f"{name} is not JSON")


def logged_rows(data_dir: Path) -> int:
    async def count() -> int:
        async with Database(default_url(data_dir)) as database, database.session() as session:
            return (await session.execute(select(func.count(PredictionRecord.id)))).scalar_one()

    return asyncio.run(count())


def test_a_model_that_fails_to_load_stops_start_up_naming_it(
    repo_dir: Path, make_app: AppFactory
) -> None:
    (repo_dir / "iris" / "model.joblib").write_bytes(b"not a pickle")
    app = make_app(model_repository=repo_dir)
    with pytest.raises(ModelLoadError, match=r"iris:1 \(.*iris\) failed to load"), TestClient(app):
        pass


def test_an_unknown_runtime_stops_start_up_listing_the_installed_ones(
    repo_dir: Path, make_app: AppFactory
) -> None:
    manifest = repo_dir / "iris" / "servekit.yaml"
    manifest.write_text(manifest.read_text().replace("runtime: sklearn", "runtime: tensorflow"))
    with pytest.raises(
        RuntimeNotFound,
        match="unknown runtime 'tensorflow'; installed runtimes: sklearn, onnx, python",
    ):
        make_app(model_repository=repo_dir)


@pytest.mark.parametrize(
    ("output", "warnings"),
    [
        (RowOutput(prediction="setosa", probabilities={"setosa": 0.9, "virginica": 0.1}), []),
        (RowOutput(prediction=3.5), []),
        (
            RowOutput(prediction=None, extra={"note": 'say "hi" — ünïcode\n', "n": [1, 2]}),
            [OODWarning("x", "out_of_range", 9.5, "within [0, 1]", "x is 9.5")],
        ),
    ],
)
def test_an_answer_made_from_its_json_parts_is_the_answer_as_one_object(
    output: RowOutput, warnings: list[OODWarning]
) -> None:
    prediction = Prediction(id=new_id(), output=output, warnings=warnings)
    text = answer_json(prediction.id, prediction.output_json(), prediction.warnings_json())
    expected: dict[str, Any] = {"id": prediction.id, "prediction": output.prediction}
    if output.probabilities is not None:
        expected["probabilities"] = output.probabilities
    expected.update(output.extra or {})
    expected["warnings"] = [w.public() for w in warnings]
    assert list(json.loads(text).items()) == list(expected.items())  # the same fields, in order
