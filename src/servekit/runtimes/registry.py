"""Finding a runtime class by the name a manifest gives: built-in, or a plug-in's entry point."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from servekit.exceptions import RuntimeNotFound
from servekit.runtimes.base import Runtime

ENTRY_POINT_GROUP = "servekit.runtimes"

BUILTIN: dict[str, str] = {
    "sklearn": "servekit.runtimes.sklearn:SklearnRuntime",
    "onnx": "servekit.runtimes.onnx:OnnxRuntime",
    "python": "servekit.runtimes.python:PythonRuntime",
    "torch": "servekit.runtimes.torch:TorchRuntime",
    "statsmodels": "servekit.runtimes.forecast:StatsmodelsRuntime",
    "spacy": "servekit.runtimes.spacy:SpacyRuntime",
}


def runtime_class(name: str) -> type[Runtime]:
    """The class for ``runtime: name``; plug-ins register under the ``servekit.runtimes`` group."""
    target = BUILTIN.get(name)
    if target is None:
        found = entry_points(group=ENTRY_POINT_GROUP, name=name)
        if not found:
            plugins = sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))
            known = ", ".join([*BUILTIN, *plugins])
            raise RuntimeNotFound(f"unknown runtime {name!r}; installed runtimes: {known}")
        target = next(iter(found)).value
    module_name, _, attr = target.partition(":")
    cls: type[Runtime] = getattr(importlib.import_module(module_name), attr)
    return cls
