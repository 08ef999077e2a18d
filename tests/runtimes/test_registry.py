"""Finding a runtime by the name a manifest gives: built in, or a plug-in's entry point."""

from __future__ import annotations

from pathlib import Path

import pytest

from servekit.exceptions import RuntimeNotFound
from servekit.runtimes.base import Row, RowOutput, Runtime
from servekit.runtimes.onnx import OnnxRuntime
from servekit.runtimes.python import PythonRuntime
from servekit.runtimes.registry import ENTRY_POINT_GROUP, runtime_class
from servekit.runtimes.sklearn import SklearnRuntime
from servekit.runtimes.torch import TorchRuntime


class ConstantRuntime(Runtime):
    """A plug-in runtime that answers 42 for every row."""

    def setup(self) -> None:
        """Nothing to load."""

    def predict(self, batch: list[Row]) -> list[int]:
        """42 per row."""
        return [42 for _ in batch]

    def encode(self, output: list[int]) -> list[RowOutput]:
        """One output per value."""
        return [RowOutput(prediction=v) for v in output]


@pytest.fixture
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A distribution on sys.path that registers ``constant`` in the runtimes group."""
    dist = tmp_path / "servekit_constant-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: servekit-constant\nVersion: 0.1\n", encoding="utf-8"
    )
    (dist / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\nconstant = tests.runtimes.test_registry:ConstantRuntime\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return "constant"


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("sklearn", SklearnRuntime),
        ("onnx", OnnxRuntime),
        ("python", PythonRuntime),
        ("torch", TorchRuntime),
    ],
)
def test_builtin_names_resolve(name: str, cls: type[Runtime]) -> None:
    assert runtime_class(name) is cls


def test_unknown_runtime_lists_the_installed_ones() -> None:
    with pytest.raises(RuntimeNotFound) as info:
        runtime_class("tensorflow")
    message = str(info.value)
    assert "unknown runtime 'tensorflow'" in message
    assert "installed runtimes: sklearn, onnx, python, torch" in message


def test_plugin_runtime_is_found_by_its_entry_point(installed_plugin: str) -> None:
    assert runtime_class(installed_plugin) is ConstantRuntime


def test_unknown_runtime_lists_installed_plugins_too(installed_plugin: str) -> None:
    with pytest.raises(RuntimeNotFound, match=f"sklearn, onnx, python, .*{installed_plugin}"):
        runtime_class("tensorflow")
