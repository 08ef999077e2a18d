"""What image runtimes share: the batch stacked from the rows' arrays, and a trial run at load."""

from __future__ import annotations

from typing import Any

import numpy as np

from servekit.exceptions import ModelLoadError
from servekit.repository.images import ImageInput
from servekit.repository.manifest import Task
from servekit.runtimes.base import Row, Runtime


def image_spec(runtime: Runtime) -> ImageInput:
    """The manifest's image section, or a clear error for a manifest without one."""
    spec = runtime.manifest.image
    if spec is None:
        raise ValueError(
            f"the {runtime.manifest.runtime} runtime takes image models: the manifest needs an "
            "image section"
        )
    if runtime.manifest.task is Task.image_classification and not runtime.manifest.outputs.labels:
        raise ValueError("an image_classification model needs its labels (outputs.labels)")
    return spec


def stack(rows: list[Row], spec: ImageInput) -> Any:
    """One float32 array ``(rows, *spec.shape)`` from each row's ``image`` array."""
    batch = np.stack([row["image"] for row in rows]).astype(np.float32, copy=False)
    if batch.shape[1:] != spec.shape:
        raise ValueError(f"expected images of shape {spec.shape}, got {batch.shape[1:]}")
    return batch


def trial_run(runtime: Runtime, spec: ImageInput) -> None:
    """Run one blank image through the model, so that a model that cannot take the manifest's
    images (another size, channel count or number of labels) fails at load, not on a request."""
    blank: Row = {"image": np.zeros(spec.shape, dtype=np.float32)}
    try:
        outputs = runtime.encode(runtime.predict(runtime.decode([blank])))
    except Exception as exc:
        raise ModelLoadError(
            f"{runtime.manifest.key} does not run on the manifest's images (tried a blank one "
            f"of shape {spec.shape}: mode {spec.mode}, size {list(spec.size)}, layout "
            f"{spec.layout}): {exc}"
        ) from exc
    if len(outputs) != 1:
        raise ModelLoadError(
            f"{runtime.manifest.key} answered {len(outputs)} results for one image"
        )
