"""The runtime contract: a few hooks that turn validated rows into one output per row."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import numpy as np

from servekit.exceptions import PredictionError
from servekit.repository.loader import ModelFolder

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class RowOutput:
    """What the model said about one row, in JSON-ready Python values."""

    prediction: Any
    probabilities: dict[str, float] | None = None
    extra: dict[str, Any] | None = None

    def non_finite(self) -> list[tuple[str, float]]:
        """Each number that is NaN or infinite, with where it is (``probabilities.setosa``).

        JSON has neither: such an output cannot be answered, nor logged.
        """
        probabilities = self.probabilities
        if (
            _finite(self.prediction)
            and (probabilities is None or _finite(probabilities))
            and (self.extra is None or _finite(self.extra))
        ):
            return []  # nearly always: no names built for the numbers that are fine
        found: list[tuple[str, float]] = []
        _non_finite("prediction", self.prediction, found)
        for label, p in (self.probabilities or {}).items():
            if not math.isfinite(p):
                found.append((f"probabilities.{label}", p))
        for name, value in (self.extra or {}).items():
            _non_finite(name, value, found)
        return found


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list | tuple):
        return all(map(_finite, value))
    if isinstance(value, dict):
        return all(map(_finite, value.values()))
    return True


def _non_finite(where: str, value: Any, found: list[tuple[str, float]]) -> None:
    if isinstance(value, float):
        if not math.isfinite(value):
            found.append((where, value))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _non_finite(f"{where}[{i}]", item, found)
    elif isinstance(value, dict):
        for key, item in value.items():
            _non_finite(f"{where}.{key}", item, found)


class Runtime(ABC):
    """Runs one model. Hooks are called off the event loop; ``setup`` once, the others per batch."""

    def __init__(self, model: ModelFolder) -> None:
        self.model = model
        self.manifest = model.manifest

    @abstractmethod
    def setup(self) -> None:
        """Load the artifact and anything else the model needs."""

    def check_options(self, known: Collection[str]) -> None:
        """Refuse options this runtime does not read: a typo must stop start-up, not be ignored."""
        unknown = sorted(set(self.manifest.options) - set(known))
        if unknown:
            raise ValueError(
                f"unknown option(s) {', '.join(unknown)} for the {self.manifest.runtime} runtime; "
                f"known options: {', '.join(sorted(known)) or 'none'}"
            )

    def decode(self, rows: list[Row]) -> Any:
        """Turn validated rows into the model's batch input."""
        return rows

    @abstractmethod
    def predict(self, batch: Any) -> Any:
        """Run the model on one batch."""

    @abstractmethod
    def encode(self, output: Any) -> list[RowOutput]:
        """Split the model's output into one result per row."""

    def __call__(self, rows: list[Row]) -> list[RowOutput]:
        """Decode, predict and encode one batch; the batch size in equals the batch size out."""
        try:
            # NOTE: valid but extreme inputs (1e308) may overflow the model's arithmetic: numpy's
            # warnings about it are silenced, and the NaN or infinity it gives is refused per row
            # by the service (a 422), rather than warned about here or failing the whole batch.
            with np.errstate(all="ignore"):
                results = self.encode(self.predict(self.decode(rows)))
        except Exception as exc:
            raise PredictionError(
                f"{self.manifest.key} failed on a batch of {len(rows)}: {exc!r}"
            ) from exc
        if len(results) != len(rows):
            raise PredictionError(
                f"{self.manifest.key} returned {len(results)} results for {len(rows)} rows"
            )
        return results
