"""The ``servekit`` command line: examples, package, and predict against a spawned server."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner, Result

from servekit.cli import app
from servekit.repository.loader import read_manifest
from servekit.repository.manifest import MANIFEST_FILE, Task
from tests.e2e.server import Server, free_port, running_server

Invoke = Callable[..., Result]


@pytest.fixture
def invoke() -> Invoke:
    """Run the CLI in this process; the environment is cleared of settings the test does not give."""

    def run(args: Sequence[str], env: dict[str, str | None] | None = None) -> Result:
        runner = CliRunner()
        cleared = {"SERVEKIT_URL": None, "SERVEKIT_TOKEN": None, "SERVEKIT_API_KEY": None}
        return runner.invoke(app, list(args), env={**cleared, **(env or {})})

    return run


# --- examples ---------------------------------------------------------------------------------


def test_examples_train_writes_both_model_folders(invoke: Invoke, tmp_path: Path) -> None:
    out = tmp_path / "models"
    result = invoke(["examples", "train", "--out", str(out)])
    assert result.exit_code == 0, result.output
    for name in ("iris", "taxifare"):
        assert (out / name / MANIFEST_FILE).is_file()
        assert read_manifest(out / name).manifest.name == name
        assert f"trained {name}:1" in result.stdout


def test_examples_train_one_by_name(invoke: Invoke, tmp_path: Path) -> None:
    out = tmp_path / "models"
    result = invoke(["examples", "train", "--out", str(out), "iris"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["iris"]


def test_examples_train_unknown_name_fails(invoke: Invoke, tmp_path: Path) -> None:
    out = tmp_path / "models"
    result = invoke(["examples", "train", "--out", str(out), "mnist"])
    assert result.exit_code != 0
    assert "unknown example" in result.stderr
    assert "mnist" in result.stderr
    assert "iris" in result.stderr
    assert not out.exists() or not any(out.iterdir())


# --- package ----------------------------------------------------------------------------------

TrainedModel = tuple[Path, Path]


@pytest.fixture
def fitted(tmp_path: Path) -> TrainedModel:
    """A tiny fitted classifier (model.joblib) and its training data (train.csv, label ``y``)."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60)})
    frame["y"] = np.where(frame["a"] + frame["b"] > 0, "pos", "neg")
    model = LogisticRegression().fit(frame[["a", "b"]], frame["y"])
    model_path, data_path = tmp_path / "model.joblib", tmp_path / "train.csv"
    joblib.dump(model, model_path)
    frame.to_csv(data_path, index=False)
    return model_path, data_path


def package_args(fitted: TrainedModel, out: Path, *extra: str) -> list[str]:
    """``servekit package`` for the fitted model, named x, into ``out``."""
    model, data = fitted
    return [
        "package",
        "--model",
        str(model),
        "--data",
        str(data),
        "--target",
        "y",
        "--name",
        "x",
        "--out",
        str(out),
        *extra,
    ]


def test_package_writes_a_folder_read_manifest_accepts(
    invoke: Invoke, fitted: TrainedModel, tmp_path: Path
) -> None:
    out = tmp_path / "x"
    result = invoke(package_args(fitted, out))
    assert result.exit_code == 0, result.output
    assert "wrote" in result.stdout
    folder = read_manifest(out)
    manifest = folder.manifest
    assert (manifest.name, manifest.version, manifest.runtime) == ("x", "1", "sklearn")
    assert manifest.task is Task.classification
    assert [f.name for f in manifest.inputs] == ["a", "b"]
    assert manifest.training_stats is not None
    assert manifest.training_stats.rows == 60
    artifact = folder.artifact_path()
    assert artifact is not None
    assert artifact.is_file()


def test_package_refuses_a_non_empty_folder_without_overwrite(
    invoke: Invoke, fitted: TrainedModel, tmp_path: Path
) -> None:
    out = tmp_path / "x"
    out.mkdir()
    keep = out / "notes.txt"
    keep.write_text("mine")
    result = invoke(package_args(fitted, out))
    assert "not empty (pass --overwrite to replace it)" in result.stderr
    assert result.exit_code != 0
    assert keep.read_text() == "mine"
    assert not (out / MANIFEST_FILE).exists()

    replaced = invoke(package_args(fitted, out, "--overwrite"))
    assert replaced.exit_code == 0, replaced.output
    assert read_manifest(out).manifest.name == "x"


def test_package_unknown_target_column_fails(
    invoke: Invoke, fitted: TrainedModel, tmp_path: Path
) -> None:
    model, data = fitted
    args = ["package", "--model", str(model), "--data", str(data), "--name", "x"]
    result = invoke([*args, "--out", str(tmp_path / "x"), "--target", "label"])
    assert result.exit_code != 0
    assert "'label'" in result.stderr


# --- predict ----------------------------------------------------------------------------------

IRIS_FIELDS = ["sepal_length=5.1", "sepal_width=3.5", "petal_length=1.4", "petal_width=0.2"]
IRIS_ROW = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
VIRGINICA_ROW = {"sepal_length": 6.5, "sepal_width": 3.0, "petal_length": 5.8, "petal_width": 2.2}


@pytest.fixture(scope="module")
def server(examples_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One spawned server over the examples for this module's predict tests."""
    with running_server(examples_dir, tmp_path_factory.mktemp("cli-server")) as running:
        yield running


def field_args(fields: Sequence[str]) -> list[str]:
    """``--field`` options for ``fields``."""
    return [arg for field in fields for arg in ("--field", field)]


def test_predict_with_fields_prints_a_table(invoke: Invoke, server: Server) -> None:
    result = invoke(["predict", "iris", *field_args(IRIS_FIELDS), "--url", server.url])
    assert result.exit_code == 0, result.output
    assert "iris 1" in result.stdout
    assert "setosa" in result.stdout


def test_predict_with_fields_as_json(invoke: Invoke, server: Server) -> None:
    result = invoke(["predict", "iris", *field_args(IRIS_FIELDS), "--json", "--url", server.url])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert (answer["model"], answer["version"]) == ("iris", "1")
    [row] = answer["predictions"]
    assert row["prediction"] == "setosa"
    assert row["warnings"] == []


def test_predict_with_a_data_batch(invoke: Invoke, server: Server) -> None:
    data = json.dumps({"instances": [IRIS_ROW, VIRGINICA_ROW]})
    result = invoke(["predict", "iris", "--data", data, "--json", "--url", server.url])
    assert result.exit_code == 0, result.output
    predictions = json.loads(result.stdout)["predictions"]
    assert [p["prediction"] for p in predictions] == ["setosa", "virginica"]


def test_predict_reads_data_from_a_file(invoke: Invoke, server: Server, tmp_path: Path) -> None:
    body = tmp_path / "rows.json"
    body.write_text(json.dumps({"instances": [IRIS_ROW] * 3}))
    result = invoke(["predict", "iris", "--data", f"@{body}", "--json", "--url", server.url])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["predictions"]) == 3


def test_predict_takes_the_url_from_servekit_url(invoke: Invoke, server: Server) -> None:
    result = invoke(
        ["predict", "iris", *field_args(IRIS_FIELDS), "--json"], env={"SERVEKIT_URL": server.url}
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["predictions"][0]["prediction"] == "setosa"


def test_predict_shows_warnings(invoke: Invoke, server: Server) -> None:
    fields = ["sepal_length=50", *IRIS_FIELDS[1:]]
    result = invoke(["predict", "iris", *field_args(fields), "--json", "--url", server.url])
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)["predictions"]
    assert "sepal_length" in {w["feature"] for w in row["warnings"]}


def test_predict_unknown_model_exits_1_with_the_server_message(
    invoke: Invoke, server: Server
) -> None:
    result = invoke(["predict", "nosuchmodel", *field_args(IRIS_FIELDS), "--url", server.url])
    assert result.exit_code == 1
    assert "404" in result.stderr
    assert "model 'nosuchmodel' is not served; served models: iris, taxifare" in result.stderr


def test_predict_invalid_input_exits_1_with_the_server_message(
    invoke: Invoke, server: Server
) -> None:
    result = invoke(["predict", "iris", "--field", "sepal_length=5.1", "--url", server.url])
    assert result.exit_code == 1
    assert "422" in result.stderr
    assert "sepal_width" in result.stderr


def test_predict_against_a_closed_port_cannot_reach(invoke: Invoke) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = invoke(["predict", "iris", *field_args(IRIS_FIELDS), "--url", url])
    assert result.exit_code != 0
    assert "cannot reach" in result.stderr
    assert url in result.stderr


@pytest.fixture
def not_servekit() -> Iterator[str]:
    """URL of a plain HTTP server that answers every POST with an HTML error page (501)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def test_predict_against_a_server_without_json_says_so(invoke: Invoke, not_servekit: str) -> None:
    result = invoke(["predict", "iris", *field_args(IRIS_FIELDS), "--url", not_servekit])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"{not_servekit} answered 501 without JSON" in result.stderr


def test_predict_rejects_invalid_data_json(invoke: Invoke) -> None:
    result = invoke(["predict", "iris", "--data", "{not json", "--url", "http://127.0.0.1:1"])
    assert result.exit_code == 2
    assert "--data is not valid JSON" in result.stderr


def test_predict_rejects_a_field_without_value(invoke: Invoke) -> None:
    result = invoke(["predict", "iris", "--field", "sepal_length", "--url", "http://127.0.0.1:1"])
    assert result.exit_code == 2
    assert "name=value" in result.stderr


def test_version(invoke: Invoke) -> None:
    from servekit import __version__

    result = invoke(["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"servekit {__version__}"


def test_predict_sends_a_token_or_an_api_key(
    invoke: Invoke, examples_dir: Path, tmp_path: Path
) -> None:
    import httpx

    closed = {"SERVEKIT_ALLOW_ANONYMOUS": "false"}
    with running_server(examples_dir, tmp_path, env=closed) as locked:
        account = {"name": "Ada", "email": "ada@example.com", "password": "correct horse battery"}
        with httpx.Client(base_url=locked.url) as client:
            assert client.post("/users", json=account).status_code == 201
            form = {"username": account["email"], "password": account["password"]}
            token = client.post("/auth/token", data=form).json()["access_token"]
            made = client.post(
                "/keys", json={"name": "cli"}, headers={"Authorization": f"Bearer {token}"}
            )
            key = made.json()["key"]
        args = ["predict", "iris", *field_args(IRIS_FIELDS), "--json", "--url", locked.url]
        refused = invoke(args)
        assert refused.exit_code == 1
        assert "401" in refused.output
        for result in (
            invoke([*args, "--token", token]),
            invoke([*args, "--api-key", key]),
            invoke(args, env={"SERVEKIT_TOKEN": token}),
            invoke(args, env={"SERVEKIT_API_KEY": key}),
        ):
            assert result.exit_code == 0, result.output
            assert json.loads(result.stdout)["predictions"][0]["prediction"] == "setosa"
