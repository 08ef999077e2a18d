"""Pydantic types generated from a tabular manifest: each model's own fields in /docs, and the validators."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    create_model,
)
from pydantic_core import PydanticCustomError
from typing_extensions import TypedDict

from servekit.repository.manifest import Feature, FeatureType, Manifest

MAX_TEXT_LENGTH = 10_000
SAFE_INTEGERS = (-(2**53 - 1), 2**53 - 1)
"""The integers every JSON reader holds exactly (RFC 7493), in a model's int64 column too.

NOTE: the bounds of an int feature whose manifest sets none: a larger one failed the model's
int64 conversion (a 500), and the schema's bounds are JSON numbers, which say no more exactly.
"""
INSTANCE_TAG, BATCH_TAG, OVERSIZED_TAG = "instance", "batch", "oversized"
MAX_UNKNOWN_FIELDS = 20
"""Unknown fields a row may carry and still be validated field by field (each one an error)."""


_NUMBER = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")


def _datetime_text(value: Any) -> Any:
    # NOTE: pydantic would read a number, or a string of one ("1373131080", a query string's
    # 10000000000), as seconds or milliseconds since 1970: a silent guess we refuse.
    if not isinstance(value, str | datetime) or (
        isinstance(value, str) and _NUMBER.fullmatch(value)
    ):
        raise ValueError(
            "a datetime must be an ISO 8601 string, such as 2013-07-06T17:18:00Z, "
            "not a number (seconds since 1970 are not read)"
        )
    # The taxi-fare tutorial's clients send "2013-07-06 17:18:00 UTC"; ISO 8601 wants an offset.
    if isinstance(value, str) and value.endswith(" UTC"):
        return value[: -len(" UTC")] + "+00:00"
    return value


def whole_number(value: Any) -> Any:
    # JSON Schema counts 7.0 as an integer, as do many clients' encoders: taken as 7; 7.5 is not.
    if isinstance(value, float):
        if not value.is_integer():
            raise PydanticCustomError(
                "int_from_float",
                "Input should be a valid integer, got a number with a fractional part",
            )
        return int(value)
    return value


def _as_utc(value: datetime) -> datetime:
    # NOTE: a time without an offset is taken as UTC (documented in the model's schema), not guessed per client.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


IsoDatetime = Annotated[datetime, BeforeValidator(_datetime_text), AfterValidator(_as_utc)]
"""A time as an ISO 8601 string (never a number of seconds), aware in UTC."""


def _annotation(feature: Feature, *, strict: bool) -> Any:
    """The type of one feature; ``strict`` for JSON (no "5" for 5), lax for query strings."""
    ge, le = feature.minimum, feature.maximum
    match feature.type:
        case FeatureType.float:
            return Annotated[float, Field(strict=strict, allow_inf_nan=False, ge=ge, le=le)]
        case FeatureType.int:
            low = SAFE_INTEGERS[0] if ge is None else max(ge, SAFE_INTEGERS[0])
            high = SAFE_INTEGERS[1] if le is None else min(le, SAFE_INTEGERS[1])
            return Annotated[
                int, Field(strict=strict, ge=low, le=high), BeforeValidator(whole_number)
            ]
        case FeatureType.bool:
            return Annotated[bool, Field(strict=strict)]
        case FeatureType.datetime:
            return IsoDatetime
        case FeatureType.string | FeatureType.category:
            if feature.allowed:
                return Literal[tuple(feature.allowed)]
            return Annotated[str, Field(strict=strict, max_length=MAX_TEXT_LENGTH)]


def _field(feature: Feature) -> Any:
    description = feature.description
    if feature.type is FeatureType.datetime:
        description = (
            description + " " if description else ""
        ) + "(ISO 8601; UTC when no offset is given)"
    examples = None if feature.example is None else [feature.example]
    return Field(description=description or None, examples=examples)


def class_name(manifest: Manifest, suffix: str) -> str:
    parts = manifest.name.replace("-", "_").replace(".", "_").split("_")
    version = manifest.version.replace(".", "_").replace("-", "_")
    return "".join(p.capitalize() for p in parts) + f"V{version}" + suffix


def example_instance(manifest: Manifest) -> dict[str, Any]:
    """One row built from the manifest's examples."""
    return {f.name: f.example for f in manifest.inputs if f.example is not None}


def instance_model(manifest: Manifest, *, strict: bool, suffix: str = "Input") -> type[BaseModel]:
    """One row of the model's features; unknown features are refused, never ignored."""
    fields: dict[str, Any] = {
        f.name: (_annotation(f, strict=strict), _field(f)) for f in manifest.inputs
    }
    config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [example_instance(manifest)]}
    )
    model: type[BaseModel] = create_model(class_name(manifest, suffix), __config__=config, **fields)
    return model


def _shape(value: Any) -> str | None:
    if isinstance(value, dict):
        return BATCH_TAG if "instances" in value else INSTANCE_TAG
    return None


def one_or_many(row: Any, batch: Any, shape: Any = _shape, *extra: Any) -> Any:
    """One row, or a batch under ``instances``, told apart by the presence of that key."""
    members = [Annotated[row, Tag(INSTANCE_TAG)], Annotated[batch, Tag(BATCH_TAG)], *extra]
    union: Any = members[0]
    for member in members[1:]:
        union = union | member
    return Annotated[
        union,
        Discriminator(
            shape,
            custom_error_type="invalid_body",
            custom_error_message='expected a JSON object: one row of features, or {"instances": [rows]}',
        ),
    ]


def _bounded_shape(features: list[str], max_rows: int) -> Any:
    """``_shape``, where a row with far more fields than the model's is set apart unvalidated.

    NOTE: pydantic makes one error per unknown field: 80,000 made-up fields would be 80,000
    errors built and converted, a third of a second of the event loop. Counted here instead (the
    discriminator already holds the parsed body), such a body is one error.
    """
    most = len(features) + MAX_UNKNOWN_FIELDS

    def shape(value: Any) -> str | None:
        tag = _shape(value)
        if tag == INSTANCE_TAG:
            return OVERSIZED_TAG if len(value) > most else tag
        if tag == BATCH_TAG:
            rows = value["instances"]
            if len(value) > most or (
                isinstance(rows, list)
                and any(isinstance(r, dict) and len(r) > most for r in rows[: max_rows + 1])
            ):
                return OVERSIZED_TAG
        return tag

    def refuse(value: Any) -> Any:
        rows = value.get("instances") if isinstance(value.get("instances"), list) else [value]
        widest = max((len(r) for r in rows if isinstance(r, dict)), default=len(value))
        raise PydanticCustomError(
            "too_many_fields",
            "a row has {count} fields; this model takes {expected}: {names}",
            {
                "count": max(widest, len(value)),
                "expected": len(features),
                "names": ", ".join(features),
            },
        )

    return shape, Annotated[Any, AfterValidator(refuse), Tag(OVERSIZED_TAG)]


def body_type(manifest: Manifest, max_rows: int) -> Any:
    """The POST body: one instance, or ``{"instances": [...]}`` with 1 to ``max_rows`` rows."""
    instance = instance_model(manifest, strict=True)
    batch = create_model(
        class_name(manifest, "Batch"),
        __config__=ConfigDict(extra="forbid"),
        instances=(list[instance], Field(min_length=1, max_length=max_rows)),  # type: ignore[valid-type]
    )
    return one_or_many(instance, batch)


def body_adapter(manifest: Manifest, max_rows: int) -> TypeAdapter[Any]:
    """The POST body's validator on the hot path: the same rules as ``body_type``, but it parses
    and validates the raw bytes in one pass and gives plain dicts (no model objects to dump)."""
    forbid = ConfigDict(extra="forbid")
    fields = {f.name: _annotation(f, strict=True) for f in manifest.inputs}
    typed_dict: Any = TypedDict  # built from run-time fields, which type checkers cannot follow
    row = typed_dict(class_name(manifest, "Row"), fields)
    row.__pydantic_config__ = forbid
    rows = Annotated[list[row], Field(min_length=1, max_length=max_rows)]  # type: ignore[valid-type]
    batch = typed_dict(class_name(manifest, "Rows"), {"instances": rows})
    batch.__pydantic_config__ = forbid
    shape, oversized = _bounded_shape(list(fields), max_rows)
    adapter: TypeAdapter[Any] = TypeAdapter(one_or_many(row, batch, shape, oversized))
    return adapter
