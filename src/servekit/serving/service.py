"""One served model version: checks its rows, asks its executor, and shapes each row's answer."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pydantic_core import to_json

from servekit.drift.ood import OODWarning
from servekit.exceptions import NonFiniteOutputError, OutOfDistributionError
from servekit.ids import new_id
from servekit.inputs.base import InputCodec
from servekit.monitoring.metrics import OOD_REJECTED_ROWS, OOD_WARNINGS, PREDICTIONS
from servekit.repository.loader import ModelFolder
from servekit.runtimes.base import Row, RowOutput, Runtime
from servekit.serving.executor import Executor


@dataclass(frozen=True, slots=True)
class Prediction:
    """One row's answer: its id, what the model said, and how the row differs from training."""

    id: str
    output: RowOutput
    warnings: list[OODWarning]

    def output_json(self) -> bytes:
        """What the model said, as one JSON object: ``prediction``, ``probabilities`` if any, extra fields."""
        out = self.output
        body: dict[str, Any] = {"prediction": out.prediction}
        if out.probabilities is not None:
            body["probabilities"] = out.probabilities
        if out.extra:
            body.update(out.extra)
        return to_json(body)

    def warnings_json(self) -> bytes:
        """The row's out-of-distribution warnings, as a JSON array."""
        return to_json([w.public() for w in self.warnings]) if self.warnings else b"[]"


def answer_json(prediction_id: str, output: bytes, warnings: bytes, fields: bytes = b"") -> bytes:
    """One row's answer in a response: ``{"id": ..., <the output's fields>, "warnings": [...]}``.

    Made from the JSON texts the prediction log keeps too, so that each is encoded once;
    ``fields`` are the input's own members (``,"file":{...}``), if its kind names it.
    """
    # NOTE: ids are hex digits, and output is a JSON object with at least ``prediction``.
    return b'{"id":"%s",%s%s,"warnings":%s}' % (
        prediction_id.encode(),
        output[1:-1],
        fields,
        warnings,
    )


class ModelService:
    """The served form of one model version."""

    def __init__(
        self, model: ModelFolder, runtime: Runtime, executor: Executor, codec: InputCodec
    ) -> None:
        self.model = model
        self.manifest = model.manifest
        self.runtime = runtime
        self.executor = executor
        self.codec = codec
        """Decodes, checks, ships and logs this model's kind of input."""
        self.loaded = False
        m = self.manifest
        self._predictions = PREDICTIONS.labels(m.name, m.version)
        self._rejected = OOD_REJECTED_ROWS.labels(m.name, m.version)

    def _count(self, warnings: list[list[OODWarning]]) -> None:
        m = self.manifest
        for row in warnings:
            for w in row:
                OOD_WARNINGS.labels(m.name, m.version, w.feature, w.kind).inc()

    async def predict(self, rows: list[Row], *, deadline: float = math.inf) -> list[Prediction]:
        """Check and predict validated rows; with policy ``reject``, unusual rows refuse the request."""
        codec = self.codec
        warnings = codec.check(rows)
        if any(warnings):
            self._refuse_unusual(warnings)
        outputs = await self.executor.submit(rows, deadline=deadline)
        self._predictions.inc(len(rows))
        self._check_finite(outputs)
        if codec.checks_outputs:
            after = codec.check_outputs(rows, outputs)
            if any(after):
                self._refuse_unusual(after)
                warnings = [[*w, *a] for w, a in zip(warnings, after, strict=True)]
        return [
            Prediction(id=new_id(), output=out, warnings=w)
            for out, w in zip(outputs, warnings, strict=True)
        ]

    def _refuse_unusual(self, warnings: list[list[OODWarning]]) -> None:
        """Count the findings; with policy ``reject``, any of them refuses the request (a 422)."""
        self._count(warnings)
        if self.manifest.ood.policy != "reject":
            return
        bad = [(i, w) for i, row in enumerate(warnings) for w in row]
        self._rejected.inc(sum(1 for row in warnings if row))
        raise OutOfDistributionError(
            f"{len(bad)} out-of-distribution finding(s); model {self.manifest.key} rejects such input: "
            + "; ".join(f"row {i}: {w.message}" for i, w in bad),
            errors=[
                {
                    "loc": ["row", i, w.feature],
                    "msg": w.message,
                    "type": w.kind,
                    "expected": w.expected,
                }
                for i, w in bad
            ],
        )

    def _check_finite(self, outputs: list[RowOutput]) -> None:
        """Refuse the request when the model said NaN or infinity for a row (JSON has neither).

        Finite inputs can still overflow a model's arithmetic (1e308 in every feature, say): that
        row's input is beyond what the model computes, a 422 naming the row and the output.
        """
        bad = [(i, out.non_finite()) for i, out in enumerate(outputs)]
        bad = [(i, found) for i, found in bad if found]
        if not bad:
            return
        said = "; ".join(
            f"row {i}: " + ", ".join(f"{where} = {value}" for where, value in found)
            for i, found in bad
        )
        raise NonFiniteOutputError(
            f"model {self.manifest.key} cannot answer {len(bad)} row(s): their values are too "
            f"extreme for it, and it computed outputs that are not finite numbers ({said})",
            errors=[
                {
                    "loc": ["row", i, where],
                    "msg": f"the model's {where} is {value}, not a finite number",
                    "type": "non_finite_output",
                }
                for i, found in bad
                for where, value in found
            ],
        )
