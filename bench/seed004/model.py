"""The digits model as its folder holds it: a ``torch.export`` program, labels from the manifest."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from servekit.repository.images import ImageInput
from servekit.repository.loader import read_manifest


@dataclass(frozen=True)
class Classifier:
    """An image classifier loaded from a servekit model folder, called on one image at a time."""

    module: Any
    """The exported program's module (``torch.export.load(...).module()``)."""
    spec: ImageInput
    """The manifest's ``image:`` section: how a file becomes the model's input."""
    labels: list[str]
    softmax: bool
    """Whether the program answers logits (the manifest's ``options.softmax``, true by default)."""

    @classmethod
    def load(cls, folder: Path) -> Classifier:
        """Read the folder's manifest and load its program, for one torch thread."""
        manifest = read_manifest(folder).manifest
        if manifest.image is None or manifest.artifact is None or not manifest.outputs.labels:
            raise ValueError(f"{folder} is not an image classifier with an artifact and labels")
        softmax = manifest.options.get("softmax", True)
        if not isinstance(softmax, bool):
            raise ValueError(f"options.softmax must be true or false, not {softmax!r}")
        # The seed's worker runs one image per call, one process per core: one thread each.
        torch.set_num_threads(1)
        module = torch.export.load(folder / manifest.artifact).module()
        return cls(module, manifest.image, list(manifest.outputs.labels), softmax)

    def classify(self, array: Any) -> tuple[str, float]:
        """The most likely label of one prepared image and its probability."""
        with torch.inference_mode():
            output = self.module(torch.from_numpy(array)[None]).float()
            proba = torch.softmax(output, dim=1)[0] if self.softmax else output[0]
        best = int(proba.argmax())
        return self.labels[best], float(proba[best])
