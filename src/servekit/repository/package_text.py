"""Writing a model folder for a spaCy named-entity pipeline: manifest, text section, statistics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from servekit.drift.text import text_stats
from servekit.exceptions import ManifestError
from servekit.repository.loader import ModelFolder, read_manifest
from servekit.repository.manifest import Manifest, Task
from servekit.repository.staging import refuse_to_replace, staged, write_manifest
from servekit.repository.text import TextInput, pipeline_meta, size_of
from servekit.runtimes.spacy import SpacyRuntime

PIPELINE_FOLDER = "pipeline"
"""Where a pipeline given as an object is saved (``nlp.to_disk``) in the model folder."""


def _text_section(
    text: TextInput | Mapping[str, Any] | None, meta: Mapping[str, Any], texts: Sequence[str]
) -> dict[str, Any]:
    given = text.model_dump(exclude_none=True) if isinstance(text, TextInput) else dict(text or {})
    defaults = {
        "language": meta.get("lang"),
        "size": size_of(str(meta.get("name", ""))),
        "example": texts[0],
    }
    section = {k: v for k, v in defaults.items() if v is not None}
    section.update(given)
    return TextInput.model_validate(section).model_dump(mode="json", exclude_none=True)


def package_text_model(
    pipeline: str | Any,
    texts: Sequence[str],
    out_dir: str | Path,
    *,
    name: str,
    version: str = "1",
    description: str = "",
    text: TextInput | Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> ModelFolder:
    """Write ``out_dir`` for a spaCy pipeline that finds named entities (task ``ner``).

    ``pipeline`` is an installed package's name (``en_core_web_sm``: the folder names it, and
    the server loads it with ``spacy.load``) or a ``spacy.Language``, saved into the folder
    with ``nlp.to_disk``. ``texts`` are reference texts like those the model will be sent: their
    lengths and scripts are what requests are compared with (``training_stats.text``), and the
    first is the docs' example. ``text`` is the manifest's text section (its ``language`` and
    ``size`` default to the pipeline's meta); ``options`` the runtime's (``batch_size``,
    ``disable``); ``extra`` adds manifest fields (``batching``, ``ood``...). The folder is loaded
    and run once before it is returned.
    """
    folder = Path(out_dir)
    refuse_to_replace(folder, overwrite)
    stats = text_stats(texts)
    saved = not isinstance(pipeline, str)
    nlp: Any = pipeline
    manifest: dict[str, Any] = {
        "name": name,
        "version": version,
        "runtime": "spacy",
        "task": Task.ner.value,
        "description": description,
        **({"artifact": PIPELINE_FOLDER} if saved else {}),
        "options": {**({} if saved else {"pipeline": pipeline}), **(options or {})},
    }
    manifest.update(extra or {})
    # Staged: a pipeline that does not load or run leaves the folder as it was, not half written.
    with staged(folder) as staging:
        if saved:
            nlp.to_disk(staging / PIPELINE_FOLDER)
        meta = pipeline_meta(staging, manifest["options"], manifest.get("artifact"))
        try:
            manifest["text"] = _text_section(text, meta, texts)
            manifest["training_stats"] = {
                "rows": stats.count,
                "text": stats.model_dump(mode="json"),
            }
            draft = ModelFolder(manifest=Manifest.model_validate(manifest), path=staging)
        except Exception as exc:
            raise ManifestError(f"the manifest for {name} would be invalid: {exc}") from exc
        SpacyRuntime(draft).setup()  # a pipeline that does not load or run fails here, not served
        write_manifest(staging, manifest)
    return read_manifest(folder)
