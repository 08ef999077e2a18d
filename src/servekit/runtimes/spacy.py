"""spaCy pipelines: an installed package or a saved folder, a batch of texts per ``nlp.pipe`` call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from servekit.exceptions import ModelLoadError
from servekit.repository.manifest import Task
from servekit.repository.text import TextInput
from servekit.runtimes.base import Row, RowOutput, Runtime
from servekit.runtimes.entities import Entity, Redactor, entity_output

OPTIONS = ("pipeline", "batch_size", "disable")
"""``pipeline``: an installed package's name (``en_core_web_sm``), where no ``artifact`` folder
holds one; ``batch_size``: texts per ``nlp.pipe`` batch (the batching's size by default);
``disable``: components not run (``[parser, lemmatizer]``: named entities need neither)."""
TRIAL = "A trial run at load."
FINDERS = ("ner", "beam_ner", "entity_ruler")
"""The factories of components that set a document's entities: a model's, or rules'."""


class SpacyRuntime(Runtime):
    """Runs a spaCy pipeline's named-entity recogniser on a batch of texts."""

    nlp: Any
    spec: TextInput

    def setup(self) -> None:
        """Load the pipeline from its folder or package, with the components the manifest disables."""
        self.check_options(OPTIONS)
        m = self.manifest
        if m.text is None:
            raise ValueError(
                "the spacy runtime takes text models: the manifest needs a text section"
            )
        if m.task is not Task.ner:
            raise ValueError(f"the spacy runtime answers named entities (task: ner), not {m.task}")
        self.spec = m.text
        options = m.options
        source = self._source()
        disable = options.get("disable", [])
        if not isinstance(disable, list) or not all(isinstance(d, str) for d in disable):
            raise ValueError("option disable must be a list of component names")
        self.batch_size = options.get("batch_size", m.batching.max_batch_size)
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError("option batch_size must be a positive integer")
        import spacy  # an optional extra: imported only for the models that use it

        self.nlp = spacy.load(source, disable=disable)
        finders = [n for n in self.nlp.pipe_names if self.nlp.get_pipe_meta(n).factory in FINDERS]
        if not finders:
            raise ModelLoadError(
                f"{m.key}: no component of the pipeline finds entities (it runs "
                f"{', '.join(self.nlp.pipe_names) or 'nothing'}; one of {', '.join(FINDERS)} "
                "is needed, and not disabled)"
            )
        self.redactor = Redactor(self.spec.redact)
        self([{"text": TRIAL}])  # a pipeline that cannot run fails now, not on a request

    def _source(self) -> str | Path:
        artifact = self.model.artifact_path()
        name = self.manifest.options.get("pipeline")
        if (artifact is None) == (name is None):
            raise ValueError(
                "a spacy model names its pipeline once: a folder saved with nlp.to_disk (artifact) "
                "or an installed package (options.pipeline)"
            )
        if artifact is not None:
            return artifact
        if not isinstance(name, str):
            raise ValueError("option pipeline must be a package name")
        return name

    def decode(self, rows: list[Row]) -> list[str]:
        """The rows' texts."""
        return [row["text"] for row in rows]

    def predict(self, batch: list[str]) -> list[tuple[str, list[Entity]]]:
        """Each text with its entities, from one ``nlp.pipe`` pass over the batch."""
        return [
            (
                doc.text,
                [
                    {"text": e.text, "label": e.label_, "start": e.start_char, "end": e.end_char}
                    for e in doc.ents
                ],
            )
            for doc in self.nlp.pipe(batch, batch_size=self.batch_size)
        ]

    def encode(self, output: list[tuple[str, list[Entity]]]) -> list[RowOutput]:
        """Each text's entities and its redacted form."""
        return [entity_output(text, ents, self.redactor) for text, ents in output]
