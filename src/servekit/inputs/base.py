"""The input codec contract: one per kind of input, for every form a front hands it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import TypeAdapter, ValidationError

from servekit.drift.ood import OODWarning
from servekit.exceptions import ServekitError, UnsupportedMediaType
from servekit.repository.manifest import InputKind, Manifest
from servekit.runtimes.base import Row, RowOutput
from servekit.storage.uploads import Upload


@dataclass(frozen=True, slots=True)
class JsonForm:
    """A JSON body, as received (its Content-Type already checked by the front)."""

    body: bytes


@dataclass(frozen=True, slots=True)
class QueryForm:
    """A query string's parameters, as received."""

    params: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class FilesForm:
    """The files of a multipart upload, one row each."""

    files: Sequence[Upload]


Form = JsonForm | QueryForm | FilesForm


@dataclass(frozen=True, slots=True)
class FileLimits:
    """What the file front holds a kind's uploads to, and what the docs say of them."""

    max_files: int
    """Files one request may carry (a row each)."""
    max_bytes: int
    """Bytes each file may have, counted as they arrive (413 past it)."""
    description: str
    """The upload field's description in ``/docs`` (formats, limits)."""


class FormValidationError(Exception):
    """pydantic's errors of a form, with where in the request they are (``body`` or ``query``).

    The API reports them as FastAPI reports its own (a 422 listing each problem).
    """

    def __init__(self, error: ValidationError, location: str) -> None:
        super().__init__(str(error))
        self.error = error
        self.location = location


def parse_json(body: TypeAdapter[Any], data: bytes) -> Any:
    """A JSON body parsed and validated by ``body`` in one pass; its errors located in the body."""
    try:
        return body.validate_json(data)
    except ValidationError as exc:
        raise FormValidationError(exc, "body") from None


def unsupported(codec: InputCodec, form: Form) -> ServekitError:
    """The error for a form this kind of input never arrives in (a front the model lacks)."""
    return UnsupportedMediaType(
        f"model {codec.manifest.key} takes {codec.kind.value} input, not a {type(form).__name__}"
    )


class InputCodec(ABC):
    """Validates and decodes each front's form of one kind of input into rows for the runtime.

    It also knows how rows travel to a worker (``to_wire``/``from_wire``), how they are logged
    (``logged``), how the answer names them (``answer_fields``) and how unusual they are
    (``check`` before the model, ``check_outputs`` after it).
    """

    kind: ClassVar[InputKind]
    forms: ClassVar[frozenset[type[Any]]]
    """The forms this kind can arrive in: the fronts offered for its models."""

    names_rows: ClassVar[bool] = False
    """Whether ``answer_fields`` adds anything to a row's answer (an image's file does)."""
    checks_outputs: ClassVar[bool] = False
    """Whether ``check_outputs`` can find anything (a confidence check does)."""
    json_body_bytes: int | None = None
    """The JSON body's own limit, where the server's would not hold one input (base64 images)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # A kind that says it takes files or a query string must say what their fronts need.
        forms: frozenset[type[Any]] = getattr(cls, "forms", frozenset())
        for form, hook in {FilesForm: "file_limits", QueryForm: "query_type"}.items():
            if form in forms and getattr(cls, hook) is getattr(InputCodec, hook):
                raise TypeError(f"{cls.__name__} takes {form.__name__} but defines no {hook}()")

    def __init__(self, manifest: Manifest, *, max_rows: int) -> None:
        self.manifest = manifest
        self.max_rows = max_rows

    def file_limits(self) -> FileLimits:
        """The uploads' limits, for a kind whose ``forms`` hold ``FilesForm`` (the file front)."""
        raise NotImplementedError(f"{type(self).__name__} takes no files")

    def query_type(self) -> Any:
        """The query string's model, for a kind whose ``forms`` hold ``QueryForm`` (the GET front)."""
        raise NotImplementedError(f"{type(self).__name__} takes no query string")

    @abstractmethod
    async def decode(self, form: Form) -> list[Row]:
        """The validated rows of a form (a 4xx error, naming what is wrong, if it is bad)."""

    def decode_now(self, form: Form) -> list[Row] | None:
        """``decode``'s rows, where they are had without waiting (small rows); else None."""
        return None

    @abstractmethod
    def json_schema_type(self) -> Any:
        """The JSON body's type, for the documented schema (one input or ``{"instances": [...]}``)."""

    @abstractmethod
    def example(self) -> dict[str, Any]:
        """One input as JSON, for the docs and the model's page."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """What the model's page says of its input (``GET /models/{name}``)."""

    @abstractmethod
    def check(self, rows: list[Row]) -> list[list[OODWarning]]:
        """Each row's out-of-distribution findings before the model runs."""

    def check_outputs(self, rows: list[Row], outputs: list[RowOutput]) -> list[list[OODWarning]]:
        """Each row's findings from what the model said (a confidence unlike training's, say)."""
        return [[] for _ in rows]

    @abstractmethod
    def to_wire(self, rows: list[Row]) -> str:
        """The rows as text for a job on the queue."""

    @abstractmethod
    def from_wire(self, data: bytes | str) -> list[Row]:
        """Rows back from ``to_wire``'s text, as ``decode`` gave them."""

    def logged(self, rows: list[Row]) -> Sequence[Any]:
        """What the prediction log keeps of each row (JSON-ready)."""
        return rows

    def answer_fields(self, row: Row) -> bytes:
        """Fields of the answer that name the row's input, as JSON members with a leading comma."""
        return b""
