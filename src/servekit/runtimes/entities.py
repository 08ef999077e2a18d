"""A named-entity answer: the entities found, and the text with those of chosen labels replaced."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from servekit.repository.text import Redaction
from servekit.runtimes.base import RowOutput

Entity = dict[str, Any]
"""``{"text", "label", "start", "end"}``: ``start`` and ``end`` are character offsets."""


class Redactor:
    """Replaces entities in a text, as the manifest's ``text.redact`` says."""

    def __init__(self, redaction: Redaction) -> None:
        self.labels = None if redaction.labels is None else frozenset(redaction.labels)
        self.replacement = redaction.replacement

    def __call__(self, text: str, entities: Sequence[Entity]) -> str:
        """The text with each chosen entity replaced (entities in order, never overlapping)."""
        parts: list[str] = []
        at = 0
        for e in entities:
            if self.labels is not None and e["label"] not in self.labels:
                continue
            parts += (text[at : e["start"]], self.replacement.format(label=e["label"]))
            at = e["end"]
        parts.append(text[at:])
        return "".join(parts)


def entity_output(text: str, entities: list[Entity], redactor: Redactor) -> RowOutput:
    """One row's answer: ``prediction`` (the labels found, each once, in order of appearance),
    ``entities`` and ``anonymized_text``."""
    labels = list(dict.fromkeys(e["label"] for e in entities))
    return RowOutput(
        prediction=labels,
        extra={"entities": entities, "anonymized_text": redactor(text, entities)},
    )
