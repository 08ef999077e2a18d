"""A plain Python class named in the manifest as ``module:Class``."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from typing import Any

from servekit.runtimes.base import Row, RowOutput, Runtime

RESERVED = frozenset({"id", "warnings"})
"""Fields of each answer that the server fills in, never the model."""


class PythonRuntime(Runtime):
    """Loads ``entrypoint: module:Class`` from the model folder (``module.py``) or an installed module.

    The class is built with no arguments; if it has ``load(folder)``, that is called once. Its
    ``predict(rows)`` takes a list of dicts and returns one item per row: a value, or a dict with
    ``prediction`` and optionally ``probabilities`` (anything else is returned as extra fields).
    """

    def setup(self) -> None:
        """Import the class, build it and let it load its files."""
        entrypoint = self.manifest.entrypoint
        if not entrypoint or ":" not in entrypoint:
            raise ValueError(
                f"the python runtime needs entrypoint: module:Class, got {entrypoint!r}"
            )
        module_name, _, class_name = entrypoint.partition(":")
        module = self._import(module_name)
        cls = getattr(module, class_name, None)
        if cls is None:
            raise ValueError(f"module {module_name!r} has no attribute {class_name!r}")
        self.instance = cls()
        if hasattr(self.instance, "load"):
            self.instance.load(self.model.path)

    def _import(self, module_name: str) -> Any:
        local = self.model.path / f"{module_name.replace('.', '/')}.py"
        if not local.exists():
            try:
                return importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                if exc.name is None or not f"{module_name}.".startswith(f"{exc.name}."):
                    raise  # the module exists but one of its own imports is missing
                # NOTE: say both places looked in; "No module named ..." alone hides the model folder.
                raise ValueError(
                    f"entrypoint module {module_name!r} is neither {local} nor an installed module"
                ) from exc
        # NOTE: a module name unique to the folder, so two models or versions never share one module.
        unique = f"servekit_models.m{hashlib.sha1(str(self.model.path.resolve()).encode()).hexdigest()}.{module_name}"
        spec = importlib.util.spec_from_file_location(unique, local)
        if spec is None or spec.loader is None:
            raise ValueError(f"cannot import {local}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[unique] = module
        spec.loader.exec_module(module)
        return module

    def predict(self, batch: list[Row]) -> Any:
        """Call the user's ``predict`` with the rows."""
        return self.instance.predict(batch)

    def encode(self, output: Any) -> list[RowOutput]:
        """Accept plain values or ``{"prediction": ..., "probabilities": ..., <more fields>}`` per row.

        More fields are answered beside the prediction, except ``id`` and ``warnings``: the
        server's own fields of each answer. A model that returns them fails, saying why.
        """
        results = []
        for item in output:
            if isinstance(item, dict) and "prediction" in item:
                reserved = RESERVED.intersection(item)
                if reserved:
                    raise ValueError(
                        f"the model's output has {', '.join(sorted(reserved))}: servekit answers "
                        "each row's id and warnings itself; name the model's own fields otherwise"
                    )
                rest = {k: v for k, v in item.items() if k not in ("prediction", "probabilities")}
                probs = item.get("probabilities")
                results.append(
                    RowOutput(
                        prediction=item["prediction"],
                        probabilities=None
                        if probs is None
                        else {str(k): float(v) for k, v in probs.items()},
                        extra=rest or None,
                    )
                )
            else:
                results.append(RowOutput(prediction=item))
        return results
