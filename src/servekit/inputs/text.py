"""Texts: one per row, from a JSON body, checked for length and script against the reference texts."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from typing import Annotated, Any, ClassVar

from pydantic import (
    ConfigDict,
    Field,
    StrictStr,
    TypeAdapter,
    create_model,
    with_config,
)
from typing_extensions import TypedDict

from servekit.drift.ood import OODWarning
from servekit.drift.text import TextChecker
from servekit.exceptions import InputError
from servekit.inputs.base import (
    Form,
    InputCodec,
    JsonForm,
    parse_json,
    unsupported,
)
from servekit.inputs.tabular_schema import one_or_many
from servekit.repository.manifest import InputKind, Manifest
from servekit.runtimes.base import Row

LOGGED_CHARS = 200
"""How much of a text the prediction log keeps (with its length and hash)."""
DEFAULT_EXAMPLE = "A short text to read."
# NOTE: white space as JSON Schema's patterns (ECMA-262) see it, not as str.isspace() does (which
# adds the control characters 0x1c-0x1f and 0x85): the documented schema and the check agree.
NOT_BLANK = r"[^\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
"""A text is blank unless it has a character that matches this."""
_NOT_BLANK = re.compile(NOT_BLANK)


@with_config(ConfigDict(extra="forbid"))
class TextRow(TypedDict):
    """One text in a JSON body."""

    text: StrictStr


class TextCodec(InputCodec):
    """One text per input: ``{"text": "..."}``, or ``{"instances": [{"text": ...}, ...]}``."""

    kind: ClassVar[InputKind] = InputKind.text
    forms: ClassVar[frozenset[type[Any]]] = frozenset({JsonForm})

    def __init__(self, manifest: Manifest, *, max_rows: int) -> None:
        super().__init__(manifest, max_rows=max_rows)
        assert manifest.text is not None
        self.spec = manifest.text
        typed_dict: Any = TypedDict  # sized by the manifest, which type checkers cannot follow
        batch = typed_dict(
            "TextRows",
            {"instances": Annotated[list[TextRow], Field(min_length=1, max_length=max_rows)]},
        )
        batch.__pydantic_config__ = ConfigDict(extra="forbid")
        self.body: TypeAdapter[Any] = TypeAdapter(one_or_many(TextRow, batch))
        self.checker = TextChecker(manifest)

    async def decode(self, form: Form) -> list[Row]:
        """The texts of a JSON body: one, or a batch."""
        return self.decode_now(form)

    def decode_now(self, form: Form) -> list[Row]:
        """``decode``, on the event loop: parsing and measuring a text is one quick pass."""
        if type(form) is not JsonForm:
            raise unsupported(self, form)
        parsed = parse_json(self.body, form.body)
        if "instances" not in parsed:
            self._check_text(parsed["text"], ["body", "text"], "the text")
            return [parsed]
        rows: list[Row] = parsed["instances"]
        for i, row in enumerate(rows):
            self._check_text(row["text"], ["body", "instances", i, "text"], f"text {i}")
        return rows

    def _check_text(self, text: str, loc: list[Any], said: str) -> None:
        problem = None
        if _NOT_BLANK.search(text) is None:
            problem = ("empty_text", f"{said} is empty" + (" (only white space)" if text else ""))
        elif len(text) > self.spec.max_chars:
            problem = (
                "text_too_long",
                f"{said} is {len(text):,} characters long; model {self.manifest.key} takes at most "
                f"{self.spec.max_chars:,} (text.max_chars in its manifest)",
            )
        if problem is not None:
            kind, message = problem
            raise InputError(message, [{"loc": loc, "msg": message, "type": kind}])

    def json_schema_type(self) -> Any:
        """One text, or a batch of them under ``instances``."""
        instance = create_model(
            "TextInstance",
            __config__=ConfigDict(extra="forbid"),
            text=(
                str,
                Field(
                    description=f"The text: at most {self.spec.max_chars:,} characters, not blank",
                    min_length=1,
                    max_length=self.spec.max_chars,
                    pattern=NOT_BLANK,
                ),
            ),
        )
        batch = create_model(
            "TextInstances",
            __config__=ConfigDict(extra="forbid"),
            instances=(list[instance], Field(min_length=1, max_length=self.max_rows)),
        )
        return one_or_many(instance, batch)

    def example(self) -> dict[str, Any]:
        """The manifest's example text."""
        return {"text": self.spec.example or DEFAULT_EXAMPLE}

    def describe(self) -> dict[str, Any]:
        """The limit, the language and what is redacted."""
        return {"input": "text", "text": self.spec.model_dump(mode="json")}

    def check(self, rows: list[Row]) -> list[list[OODWarning]]:
        """A length far from the reference texts', and letters mostly in another script."""
        return self.checker.check([row["text"] for row in rows])

    def to_wire(self, rows: list[Row]) -> str:
        """JSON: each row's text."""
        return json.dumps(rows, ensure_ascii=False, separators=(",", ":"))

    def from_wire(self, data: bytes | str) -> list[Row]:
        """The rows as ``decode`` gave them."""
        rows: list[Row] = json.loads(data)
        return rows

    def logged(self, rows: list[Row]) -> Sequence[Any]:
        """The text's start, its length and its SHA-256: a long text is not kept whole."""
        out = []
        for row in rows:
            text: str = row["text"]
            out.append(
                {
                    "text": text[:LOGGED_CHARS],
                    "chars": len(text),
                    "truncated": len(text) > LOGGED_CHARS,
                    "sha256": hashlib.sha256(text.encode()).hexdigest(),
                }
            )
        return out
