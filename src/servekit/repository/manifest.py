"""The manifest (``servekit.yaml``) of a model folder, as a validated pydantic model."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal, Self

from pydantic import Field, ValidationInfo, field_validator, model_validator

from servekit.repository.images import ImageInput
from servekit.repository.series import SeriesInput
from servekit.repository.stats import TrainingStats
from servekit.repository.strict import Strict
from servekit.repository.text import TextInput

MANIFEST_FILE = "servekit.yaml"

NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
FEATURE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
# NOTE: these keys shape the request body itself, so no feature may carry their names.
RESERVED_FEATURES = frozenset({"instances"})


class FeatureType(StrEnum):
    """The type of one tabular feature, as a client sends it."""

    float = "float"
    int = "int"
    string = "string"
    category = "category"
    datetime = "datetime"
    bool = "bool"


class InputKind(StrEnum):
    """What a model takes: rows of tabular features, an image (a file per row), a text, or a series."""

    tabular = "tabular"
    image = "image"
    text = "text"
    series = "series"


KIND_SECTIONS = ("image", "text", "series")
"""The manifest's sections that each make a model take a kind of input other than rows."""


class Task(StrEnum):
    """What the model does; it decides how outputs are shown."""

    classification = "classification"
    regression = "regression"
    image_classification = "image_classification"
    text_classification = "text_classification"
    ner = "ner"
    forecasting = "forecasting"
    custom = "custom"


class Feature(Strict):
    """One input feature of a tabular model: its type and what values are valid."""

    name: str = Field(pattern=FEATURE_PATTERN)
    type: FeatureType
    description: str = ""
    example: Any = None
    minimum: float | None = None
    """Smallest valid value (validation: below it is a 422, not a warning)."""
    maximum: float | None = None
    """Largest valid value (validation: above it is a 422, not a warning)."""
    allowed: list[str] | None = None
    """For category/string features: the only valid values (anything else is a 422)."""
    dtype: str | None = None
    """The pandas dtype the model was trained with, so that its frame is rebuilt exactly."""

    @model_validator(mode="after")
    def _check_bounds(self) -> Self:
        numeric = self.type in (FeatureType.float, FeatureType.int)
        if (self.minimum is not None or self.maximum is not None) and not numeric:
            raise ValueError(f"minimum/maximum apply to float and int features, not {self.type}")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError(f"minimum {self.minimum} is greater than maximum {self.maximum}")
        if self.allowed is not None and self.type not in (FeatureType.category, FeatureType.string):
            raise ValueError(f"allowed applies to category and string features, not {self.type}")
        if self.name in RESERVED_FEATURES:
            raise ValueError(
                f"{self.name!r} is reserved for the request body and cannot name a feature"
            )
        return self


class Outputs(Strict):
    """What the model returns."""

    name: str = "prediction"
    labels: list[str] | None = None
    """Class labels in the order of the model's probability columns."""
    top_k: int | None = Field(default=None, gt=0)
    """Image classifiers: how many of the most probable labels each answer lists (5 when unset)."""
    unit: str | None = None
    description: str = ""


class Batching(Strict):
    """How rows are gathered into model calls."""

    max_batch_size: int = Field(default=64, gt=0)
    """Most rows in one model call."""
    max_wait_ms: float = Field(default=10.0, ge=0)
    """Under load only, longest a batch waits for the rows of clients it just answered
    (a lone row on an idle model never waits; a wait also ends once rows stop arriving)."""
    max_request_rows: int | None = Field(default=None, gt=0)
    """Most rows one request may carry (the server's limit applies when unset)."""
    max_queue_rows: int | None = Field(default=None, gt=0)
    """Most rows waiting for this model (the server's limit applies when unset)."""
    max_queue_wait_ms: float | None = Field(default=None, gt=0)
    """Longest a row should wait for this model's call: the queue takes no more rows than the
    model clears in this time at its measured rate (the server's limit applies when unset)."""
    concurrency: int = Field(default=1, gt=0)
    """Model calls of this model that may run at once (1 for a model that holds a lock or the GIL)."""


class OutOfDistribution(Strict):
    """How rows unlike the training data are treated."""

    policy: Literal["warn", "reject"] = "warn"
    """``warn`` answers with warnings; ``reject`` refuses the request with a 422."""
    range_margin: float = Field(default=0.1, ge=0)
    """Slack beyond the training range, as a fraction of its width, before a value is flagged."""
    multivariate: bool = True
    """Also flag rows whose feature combination is far from the training data."""


class Manifest(Strict):
    """A model folder's ``servekit.yaml``."""

    name: str = Field(pattern=NAME_PATTERN)
    version: str = Field(default="1", pattern=NAME_PATTERN)
    runtime: str
    """``sklearn``, ``onnx``, ``torch``, ``python``, or a runtime installed by a plug-in."""
    task: Task
    description: str = ""
    artifact: str | None = None
    """The model file, relative to the folder."""
    entrypoint: str | None = None
    """For the python runtime: ``module:Class``, the module found in the folder or installed."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Settings for the runtime itself."""
    image: ImageInput | None = None
    """For a model that takes an image: the files it accepts and their preprocessing."""
    text: TextInput | None = None
    """For a model that takes text: its limit, language, and what its answer redacts."""
    series: SeriesInput | None = None
    """For a forecaster: the history it takes and the horizon it answers."""
    inputs: list[Feature] = Field(default=[], validate_default=True)
    """For a model that takes tabular rows: its features, in the model's order."""
    outputs: Outputs = Outputs()
    batching: Batching = Batching()
    ood: OutOfDistribution = OutOfDistribution()
    training_stats: TrainingStats | None = None

    # NOTE: field validators, not one model validator, so that each error is located at its field
    # ("inputs: duplicate..."), where a model validator would only say "(top level)".
    @field_validator("inputs")
    @classmethod
    def _check_inputs(cls, inputs: list[Feature], info: ValidationInfo) -> list[Feature]:
        sections = [name for name in KIND_SECTIONS if info.data.get(name) is not None]
        sections += ["inputs"] if inputs else []
        if len(sections) > 1:
            raise ValueError(
                "a model takes one kind of input: tabular features (inputs), an image (image), "
                f"text (text) or a series (series), not {' and '.join(sections)}"
            )
        if not sections and all(name in info.data for name in KIND_SECTIONS):
            raise ValueError(
                "a model needs its input features (inputs, at least one), an image, a text "
                "or a series section"
            )
        names = [f.name for f in inputs]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate input feature(s): {', '.join(duplicates)}")
        return inputs

    @field_validator("training_stats")
    @classmethod
    def _check_stats_features(
        cls, stats: TrainingStats | None, info: ValidationInfo
    ) -> TrainingStats | None:
        inputs = info.data.get("inputs")
        if stats is None or inputs is None:  # invalid inputs are reported on their own
            return stats
        unknown = set(stats.features) - {f.name for f in inputs}
        if stats.multivariate is not None:
            unknown |= set(stats.multivariate.features) - {f.name for f in inputs}
        if unknown:
            raise ValueError(
                f"training_stats name unknown feature(s): {', '.join(sorted(unknown))}"
            )
        return stats

    @property
    def input_kind(self) -> InputKind:
        """What the model takes, from the manifest's section for it."""
        for name in KIND_SECTIONS:
            if getattr(self, name) is not None:
                return InputKind(name)
        return InputKind.tabular

    @property
    def key(self) -> str:
        """``name:version``, as logs and errors show it."""
        return f"{self.name}:{self.version}"
