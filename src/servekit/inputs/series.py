"""A time series per row: the recent history and a horizon, checked against the training series."""

from __future__ import annotations

import hashlib
import json
import math
from datetime import datetime
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, TypeAdapter

from servekit.drift.ood import OODWarning, range_bounds
from servekit.inputs import series_schema
from servekit.inputs.base import (
    Form,
    InputCodec,
    JsonForm,
    parse_json,
    unsupported,
)
from servekit.repository.manifest import InputKind, Manifest
from servekit.repository.stats import SeriesStats
from servekit.runtimes.base import Row

LOGGED_VALUES = 64
"""The most recent values the prediction log keeps of a history (with its length and hash)."""


def returns(values: np.ndarray[Any, Any], transform: str) -> np.ndarray[Any, Any]:
    """Each step's change: the log return for a series forecast in logs, else the difference."""
    return np.diff(np.log(values)) if transform == "log" else np.diff(values)


class SeriesCodec(InputCodec):
    """One series per input: ``{"horizon": 7, "history": {...}}``, or ``{"instances": [...]}``.

    A row is ``{"horizon": h, "start": first date or None, "values": [...] or None}``: the dates
    are checked to be one step apart, so the first and the frequency give them all.
    """

    kind: ClassVar[InputKind] = InputKind.series
    forms: ClassVar[frozenset[type[Any]]] = frozenset({JsonForm})

    def __init__(self, manifest: Manifest, *, max_rows: int) -> None:
        super().__init__(manifest, max_rows=max_rows)
        spec = manifest.series
        assert spec is not None
        self.spec = spec
        self._body_type = series_schema.body_type(manifest, max_rows)
        self.body: TypeAdapter[Any] = TypeAdapter(self._body_type)
        stats = manifest.training_stats.series if manifest.training_stats else None
        self.stats = stats
        margin = manifest.ood.range_margin
        self._values = None if stats is None else range_bounds(stats.values, margin)
        self._returns = None if stats is None else range_bounds(stats.returns, margin)

    async def decode(self, form: Form) -> list[Row]:
        """Validate a JSON body: one series or a batch of them."""
        return self.decode_now(form)

    def decode_now(self, form: Form) -> list[Row]:
        """``decode``, on the event loop: a history is at most ``max_history`` numbers."""
        if type(form) is not JsonForm:
            raise unsupported(self, form)
        parsed = parse_json(self.body, form.body)
        requests = dict(parsed).get("instances") or [parsed]
        return [self._row(r) for r in requests]

    @staticmethod
    def _row(request: BaseModel) -> Row:
        fields = dict(request)
        history = fields["history"]
        if history is None:
            return {"horizon": fields["horizon"], "start": None, "values": None}
        return {"horizon": fields["horizon"], "start": history.first, "values": history.values}

    def json_schema_type(self) -> Any:
        """One forecast request, or a batch of them."""
        return self._body_type

    def example(self) -> dict[str, Any]:
        """A week's forecast on from the training series."""
        return {"horizon": min(7, self.spec.max_horizon)}

    def describe(self) -> dict[str, Any]:
        """The series the model takes, and the span of its training series."""
        described: dict[str, Any] = {"series": self.spec.model_dump(exclude_none=True)}
        if self.stats is not None:
            described["training_series"] = {
                "start": series_schema.show(self.stats.start),
                "end": series_schema.show(self.stats.end),
                "count": self.stats.count,
                "recent": self._recent(self.stats),
            }
        return described

    def _recent(self, stats: SeriesStats) -> dict[str, list[Any]]:
        dates = pd.date_range(end=stats.end, periods=len(stats.recent), freq=self.spec.frequency)
        return {"dates": [series_schema.show(d) for d in dates], "values": stats.recent}

    def check(self, rows: list[Row]) -> list[list[OODWarning]]:
        """Values, and steps' changes, outside what the training series showed."""
        return [self._check(row) for row in rows]

    def _check(self, row: Row) -> list[OODWarning]:
        values = row["values"]
        if values is None or self._values is None or self._returns is None:
            return []
        array = np.asarray(values, dtype=float)
        name = self.spec.value_name
        found = []
        warning = _outside(name, "range", array, self._values, f"the {name}")
        if warning is not None:
            found.append(warning)
        if array.size > 1:
            change = "log return" if self.spec.transform == "log" else "change"
            steps = returns(array, self.spec.transform)
            warning = _outside(name, "return_range", steps, self._returns, f"a step's {change}")
            if warning is not None:
                found.append(warning)
        return found

    def to_wire(self, rows: list[Row]) -> str:
        """JSON, the first date as ISO 8601."""
        return json.dumps(
            [{**r, "start": None if r["start"] is None else r["start"].isoformat()} for r in rows],
            separators=(",", ":"),
        )

    def from_wire(self, data: bytes | str) -> list[Row]:
        """The rows, the first date a datetime again."""
        rows: list[Row] = json.loads(data)
        for row in rows:
            if row["start"] is not None:
                row["start"] = datetime.fromisoformat(row["start"])
        return rows

    def logged(self, rows: list[Row]) -> list[dict[str, Any]]:
        """The horizon and the history's span, length, hash and last values (not all of them)."""
        return [_logged(row) for row in rows]


def _logged(row: Row) -> dict[str, Any]:
    values = row["values"]
    if values is None:
        return {"horizon": row["horizon"], "history": None}
    text = json.dumps(values, separators=(",", ":")).encode()
    return {
        "horizon": row["horizon"],
        "history": {
            "start": series_schema.show(row["start"]),
            "length": len(values),
            "sha256": hashlib.sha256(text).hexdigest(),
            "last_values": values[-LOGGED_VALUES:],
        },
    }


def _outside(
    feature: str,
    kind: str,
    values: np.ndarray[Any, Any],
    bounds: tuple[float, float],
    what: str,
) -> OODWarning | None:
    """A warning for the value furthest outside ``bounds``, if any is."""
    low, high = bounds
    below, above = float(values.min()), float(values.max())
    if low <= below and above <= high:
        return None
    worst = below if low - below > above - high else above
    expected = f"between {low:.6g} and {high:.6g}"
    return OODWarning(
        feature=feature,
        kind=kind,
        value=worst if math.isfinite(worst) else str(worst),
        expected=expected,
        message=f"{what} reached {worst:.6g}; in the training series it stayed {expected}",
    )
