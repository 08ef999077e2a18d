"""The python runtime: a class from the model folder's own module, or from an installed module."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from servekit.exceptions import PredictionError
from servekit.repository.loader import read_manifest
from servekit.repository.manifest import MANIFEST_FILE
from servekit.runtimes.base import Row, RowOutput
from servekit.runtimes.python import PythonRuntime

ECHO = '''
from pathlib import Path


class Echo:
    """Greets each row with the text of greeting.txt, read once by load()."""

    def __init__(self):
        self.greeting = None
        self.loads = 0

    def load(self, folder):
        self.loads += 1
        self.folder = Path(folder)
        self.greeting = (self.folder / "greeting.txt").read_text().strip()

    def predict(self, rows):
        return [f"{self.greeting} {row['x']}" for row in rows]
'''

SCORED = """
class Scored:
    def predict(self, rows):
        return [
            {"prediction": "high" if row["x"] > 0 else "low",
             "probabilities": {1: 0.75, "0": 0.25},
             "score": row["x"] * 2, "source": "scored"}
            for row in rows
        ]
"""


class Doubler:
    """An installed entrypoint: this very module, imported as ``tests.runtimes.test_python``."""

    def predict(self, rows: list[Row]) -> list[float]:
        """Twice each row's x."""
        return [row["x"] * 2 for row in rows]


MakeModel = Callable[..., PythonRuntime]


@pytest.fixture
def make_model(tmp_path: Path) -> MakeModel:
    """Write a python model folder (``model.py`` from ``source``, if given) and set it up."""

    def make(
        source: str | None = None,
        *,
        entrypoint: str | None = "model:Echo",
        name: str = "echo",
        version: str = "1",
        files: dict[str, str] | None = None,
    ) -> PythonRuntime:
        folder = tmp_path / f"{name}-{version}"
        folder.mkdir()
        if source is not None:
            (folder / "model.py").write_text(source, encoding="utf-8")
        for file_name, text in (files or {}).items():
            (folder / file_name).write_text(text, encoding="utf-8")
        manifest: dict[str, Any] = {
            "name": name,
            "version": version,
            "runtime": "python",
            "task": "custom",
            "entrypoint": entrypoint,
            "inputs": [{"name": "x", "type": "float"}],
        }
        (folder / MANIFEST_FILE).write_text(yaml.safe_dump(manifest), encoding="utf-8")
        runtime = PythonRuntime(read_manifest(folder))
        runtime.setup()
        return runtime

    return make


def test_folder_module_is_loaded_once_with_its_folder(make_model: MakeModel) -> None:
    runtime = make_model(ECHO, files={"greeting.txt": "hello\n"})

    assert runtime.instance.loads == 1
    assert runtime.instance.folder == runtime.model.path
    assert runtime([{"x": 1.5}, {"x": -2.0}]) == [
        RowOutput(prediction="hello 1.5"),
        RowOutput(prediction="hello -2.0"),
    ]
    assert runtime.instance.loads == 1


def test_dict_outputs_give_prediction_probabilities_and_extra_fields(
    make_model: MakeModel,
) -> None:
    runtime = make_model(SCORED, entrypoint="model:Scored")
    [high, low] = runtime([{"x": 3.0}, {"x": -1.0}])

    assert high == RowOutput(
        prediction="high",
        probabilities={"1": 0.75, "0": 0.25},
        extra={"score": 6.0, "source": "scored"},
    )
    assert low.prediction == "low"
    assert all(type(p) is float for p in (low.probabilities or {}).values())


@pytest.mark.parametrize("fields", ["'id': 7", "'warnings': []", "'id': 7, 'warnings': []"])
def test_an_output_with_the_servers_own_fields_fails_naming_them(
    make_model: MakeModel, fields: str
) -> None:
    source = f"class M:\n    def predict(self, rows):\n        return [{{'prediction': 1, {fields}}} for _ in rows]\n"
    runtime = make_model(source, entrypoint="model:M")
    names = ", ".join(sorted(k.split(":")[0].strip("' ") for k in fields.split(", ")))
    with pytest.raises(PredictionError, match=f"the model's output has {names}: servekit answers"):
        runtime([{"x": 0.0}])


def test_dict_without_prediction_is_a_plain_value(make_model: MakeModel) -> None:
    source = "class M:\n    def predict(self, rows):\n        return [{'a': 1} for _ in rows]\n"
    runtime = make_model(source, entrypoint="model:M")
    assert runtime([{"x": 0.0}]) == [RowOutput(prediction={"a": 1})]


def test_installed_module_is_an_entrypoint_too(make_model: MakeModel) -> None:
    runtime = make_model(entrypoint="tests.runtimes.test_python:Doubler")

    assert isinstance(runtime.instance, Doubler)
    assert [o.prediction for o in runtime([{"x": 1.5}, {"x": 4.0}])] == [3.0, 8.0]


def test_two_versions_of_a_folder_module_stay_apart(make_model: MakeModel) -> None:
    source = "class Echo:\n    def predict(self, rows):\n        return [{version} for _ in rows]\n"
    first = make_model(source.format(version=1), version="1")
    second = make_model(source.format(version=2), version="2")

    assert type(first.instance).__module__ != type(second.instance).__module__
    assert [o.prediction for o in first([{"x": 0.0}])] == [1]
    assert [o.prediction for o in second([{"x": 0.0}])] == [2]


@pytest.mark.parametrize(
    ("entrypoint", "message"),
    [
        (None, "needs entrypoint: module:Class, got None"),
        ("model", "needs entrypoint: module:Class, got 'model'"),
        ("model:Missing", "module 'model' has no attribute 'Missing'"),
        (
            "servekit_no_such_module:Model",
            r"'servekit_no_such_module' is neither \S*/echo-1/servekit_no_such_module\.py nor an installed",
        ),
        (
            "servekit.no_such_module:Model",
            r"'servekit.no_such_module' is neither \S*/echo-1/servekit/no_such_module\.py nor an installed",
        ),
    ],
)
def test_bad_entrypoints_are_refused_clearly(
    make_model: MakeModel, entrypoint: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        make_model(ECHO, entrypoint=entrypoint, files={"greeting.txt": "hi"})


def test_missing_import_inside_the_module_is_not_hidden(make_model: MakeModel) -> None:
    source = "import servekit_missing_dependency\n\nclass Echo:\n    pass\n"
    with pytest.raises(ModuleNotFoundError, match="servekit_missing_dependency"):
        make_model(source)


def test_model_error_becomes_prediction_error(make_model: MakeModel) -> None:
    source = "class Echo:\n    def predict(self, rows):\n        raise KeyError('colour')\n"
    runtime = make_model(source)
    with pytest.raises(
        PredictionError, match=r"echo:1 failed on a batch of 2: KeyError\('colour'\)"
    ):
        runtime([{"x": 1.0}, {"x": 2.0}])


@pytest.mark.parametrize("returned", ["rows[:1]", "rows + rows"])
def test_wrong_number_of_results_is_a_prediction_error(
    make_model: MakeModel, returned: str
) -> None:
    source = f"class Echo:\n    def predict(self, rows):\n        return {returned}\n"
    runtime = make_model(source)
    with pytest.raises(PredictionError, match=r"echo:1 returned \d results for 2 rows"):
        runtime([{"x": 1.0}, {"x": 2.0}])
