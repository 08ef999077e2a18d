"""The manifest's ``text`` section: how long a text may be, its language, and what is redacted."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any, Self

from pydantic import Field, model_validator

from servekit.repository.strict import Strict

SIZES = ("sm", "md", "lg", "trf")
"""The sizes spaCy's pipelines are named by (``en_core_web_sm``)."""


class Redaction(Strict):
    """Which entities ``anonymized_text`` replaces, and with what."""

    labels: list[str] | None = None
    """The entity labels replaced (every label the pipeline finds when unset)."""
    replacement: str = "[{label}]"
    """What an entity becomes: ``{label}`` stands for its label (``[PERSON]``); a text without
    it is a fixed mask (``████``)."""

    @model_validator(mode="after")
    def _check(self) -> Self:
        try:
            self.replacement.format(label="LABEL")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"replacement may hold {{label}} and nothing else in braces, not {self.replacement!r} ({exc})"
            ) from None
        return self


class TextInput(Strict):
    """What texts a model takes, and what its answer hides of them."""

    max_chars: int = Field(default=10_000, gt=0)
    """The longest text, in characters (Unicode code points): a longer one is a 422."""
    language: str | None = None
    """The language of the pipeline (ISO 639-1, ``en``): written from the pipeline's meta when
    packaged, and read from it when unset."""
    size: str | None = None
    """The pipeline's size (``sm``, ``md``, ``lg``, ``trf``), likewise from its meta."""
    example: str | None = None
    """A text for the docs and the model's page."""
    redact: Redaction = Redaction()


def size_of(meta_name: str) -> str | None:
    """The size in a pipeline's name (``core_web_sm`` -> ``sm``), if it says one."""
    return next((part for part in meta_name.split("_") if part in SIZES), None)


def pipeline_meta(
    folder: Path, manifest_options: dict[str, Any], artifact: str | None
) -> dict[str, Any]:
    """The pipeline's ``meta.json`` (language, name, version), read without loading spaCy.

    From the folder the pipeline was saved to (``artifact``), or from the installed package that
    ``options.pipeline`` names; empty when neither has one.
    """
    if artifact is not None:
        path: Path | None = folder / artifact / "meta.json"
    else:
        name = manifest_options.get("pipeline")
        try:
            spec = importlib.util.find_spec(name) if isinstance(name, str) else None
        except (ImportError, ValueError):
            spec = None
        locations = list(spec.submodule_search_locations or []) if spec else []
        path = Path(locations[0]) / "meta.json" if locations else None
    if path is None or not path.is_file():
        return {}
    meta: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return meta
