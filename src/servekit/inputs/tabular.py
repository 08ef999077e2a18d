"""Rows of tabular features: from a JSON body or a query string, checked against training ranges."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, ClassVar

from pydantic import ValidationError

from servekit.drift.ood import OODChecker, OODWarning
from servekit.inputs import tabular_schema
from servekit.inputs.base import (
    Form,
    FormValidationError,
    InputCodec,
    JsonForm,
    QueryForm,
    parse_json,
    unsupported,
)
from servekit.repository.manifest import FeatureType, InputKind, Manifest
from servekit.runtimes.base import Row


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot send a {type(value).__name__} to a worker")


class TabularCodec(InputCodec):
    """One row of features per input: ``{feature: value}``, or ``{"instances": [rows]}``."""

    kind: ClassVar[InputKind] = InputKind.tabular
    forms: ClassVar[frozenset[type[Any]]] = frozenset({JsonForm, QueryForm})

    def __init__(self, manifest: Manifest, *, max_rows: int) -> None:
        super().__init__(manifest, max_rows=max_rows)
        self.body = tabular_schema.body_adapter(manifest, max_rows)
        self.query = tabular_schema.instance_model(manifest, strict=False, suffix="Query")
        self.checker = OODChecker(manifest)
        self._datetimes = [f.name for f in manifest.inputs if f.type is FeatureType.datetime]

    async def decode(self, form: Form) -> list[Row]:
        """Validate a JSON body (one row or a batch) or a query string (one row)."""
        return self.decode_now(form)

    def decode_now(self, form: Form) -> list[Row]:
        """``decode``, on the event loop: rows of features are small, and validated in one pass."""
        if type(form) is JsonForm:
            return self.decode_json(form.body)
        if type(form) is QueryForm:
            try:
                return [self.query.model_validate(form.params).model_dump()]
            except ValidationError as exc:
                raise FormValidationError(exc, "query") from None
        raise unsupported(self, form)

    def decode_json(self, body: bytes) -> list[Row]:
        """A JSON body's rows, parsed and validated in one pass (no waiting: rows are small)."""
        parsed = parse_json(self.body, body)
        rows: list[Row] = parsed.get("instances", [parsed])
        return rows

    def json_schema_type(self) -> Any:
        """One row of the model's features, or a batch of them."""
        return tabular_schema.body_type(self.manifest, self.max_rows)

    def query_type(self) -> Any:
        """The query string's model, for the documented GET form."""
        return self.query

    def example(self) -> dict[str, Any]:
        """A row from the features' examples."""
        return tabular_schema.example_instance(self.manifest)

    def describe(self) -> dict[str, Any]:
        """The features with their types and bounds."""
        return {
            "inputs": [
                f.model_dump(exclude_none=True, exclude={"dtype"}) for f in self.manifest.inputs
            ]
        }

    def check(self, rows: list[Row]) -> list[list[OODWarning]]:
        """Values outside the training range, unseen categories, unusual combinations."""
        return self.checker.check(rows)

    def to_wire(self, rows: list[Row]) -> str:
        """JSON, times as ISO 8601."""
        return json.dumps(rows, default=_json_default, separators=(",", ":"))

    def from_wire(self, data: bytes | str) -> list[Row]:
        """The rows, datetime features as datetimes again."""
        rows: list[Row] = json.loads(data)
        for name in self._datetimes:
            for row in rows:
                if isinstance(row.get(name), str):
                    row[name] = datetime.fromisoformat(row[name])
        return rows
