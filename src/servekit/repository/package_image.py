"""Writing a model folder for an image classifier: artifact, image spec, statistics and samples."""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from servekit.drift.stats import numeric_stats
from servekit.exceptions import InvalidImage, ManifestError
from servekit.inputs import pixels
from servekit.repository import training_images
from servekit.repository.images import ImageInput
from servekit.repository.loader import ModelFolder, read_manifest
from servekit.repository.manifest import Manifest, Task
from servekit.repository.staging import merge_extra, refuse_to_replace, staged, write_manifest
from servekit.repository.stats import ImageStats
from servekit.repository.training_images import TrainingImage
from servekit.runtimes.base import Row
from servekit.runtimes.registry import runtime_class

# The runtime and artifact name of a model file given by its path, by suffix.
MODEL_FILES = {".pt2": ("torch", "model.pt2"), ".onnx": ("onnx", "model.onnx")}
SAMPLES_FOLDER = "samples"


def _runtime_of(model: Any) -> tuple[str, str]:
    if isinstance(model, str | Path):
        suffix = Path(model).suffix
        if suffix not in MODEL_FILES:
            raise ValueError(
                f"{model}: an image model file is a torch.export program (.pt2) or an ONNX "
                "graph (.onnx)"
            )
        return MODEL_FILES[suffix]
    return MODEL_FILES[".pt2"]


def export_module(model: Any, spec: ImageInput, target: Path) -> None:
    """Save a PyTorch module as a ``torch.export`` program taking any number of ``spec`` images."""
    try:
        import torch
    except ImportError:
        raise TypeError(
            "model must be a torch.nn.Module (with PyTorch installed: pip install "
            "'servekit[torch]') or the path of a .pt2 or .onnx file"
        ) from None
    if not isinstance(model, torch.nn.Module):
        raise TypeError(
            f"model must be a torch.nn.Module or the path of a .pt2 or .onnx file, not "
            f"{type(model).__name__}"
        )
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    # Two images, not one: torch.export takes a dimension of size 1 for a constant.
    example = torch.zeros(2, *spec.shape, device=device)
    # NOTE: exported in eval mode (dropout off, batch norm on its running statistics), which the
    # program then keeps; the caller's module is put back in the mode it was in.
    was_training = model.training
    model.eval()
    try:
        program = torch.export.export(
            model, (example,), dynamic_shapes=({0: torch.export.Dim("batch", min=1)},)
        )
    except Exception as exc:
        raise ValueError(
            f"the model cannot be exported with torch.export for images of shape {spec.shape} "
            f"(its forward must take one tensor (batch, {', '.join(map(str, spec.shape))})): "
            f"{exc}"
        ) from exc
    finally:
        model.train(was_training)
    if device.type != "cpu":
        from torch.export.passes import move_to_device_pass

        # On the CPU, where the server runs a model unless its options say otherwise.
        program = move_to_device_pass(program, "cpu")
    torch.export.save(program, target)


def _measure(
    folder: ModelFolder, images: Iterable[TrainingImage], samples: int
) -> tuple[int, ImageStats]:
    """Prepare each image as the server will and run it through the folder's runtime: the
    statistics of what the model saw and said. The first ``samples`` images are kept as PNGs."""
    spec = folder.manifest.image
    assert spec is not None  # the manifest of an image model, written by package_image_model
    runtime = runtime_class(folder.manifest.runtime)(folder)
    runtime.setup()
    means: list[float] = []
    stds: list[float] = []
    confidence: list[float] = []
    pending: list[Row] = []
    chunk = folder.manifest.batching.max_batch_size

    def run() -> None:
        confidence.extend(out.extra["score"] for out in runtime(pending) if out.extra)
        pending.clear()

    (folder.path / SAMPLES_FOLDER).mkdir()
    for i, item in enumerate(images):
        where = f"training image {i}" + (f" ({item})" if isinstance(item, str | Path) else "")
        try:
            with training_images.opened(item, where) as image:
                prepared = pixels.prepare(image, spec)
        except (OSError, InvalidImage) as exc:  # not an image, or a corrupt one
            raise ValueError(f"{where}: {exc}") from exc
        means.append(prepared.mean)
        stds.append(prepared.std)
        pending.append({"image": prepared.array})
        if len(pending) >= chunk:
            run()
        if i < samples:
            target = folder.path / SAMPLES_FOLDER / f"{i + 1:03d}.png"
            training_images.save_sample(item, target, where)
    if pending:
        run()
    if not means:
        raise ValueError("package_image_model needs training images (none were given)")
    stats = ImageStats(
        count=len(means),
        mean=numeric_stats(means),
        std=numeric_stats(stds),
        confidence=numeric_stats(confidence) if confidence else None,
    )
    return len(means), stats


def package_image_model(
    model: Any,
    images: Iterable[TrainingImage],
    out_dir: str | Path,
    *,
    name: str,
    labels: Sequence[str],
    image: ImageInput | Mapping[str, Any],
    version: str = "1",
    description: str = "",
    extra: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    samples: int = 8,
) -> ModelFolder:
    """Write ``out_dir`` for an image classifier: its artifact, manifest, statistics and samples.

    ``model`` is a fitted ``torch.nn.Module`` (exported here with ``torch.export``, taking any
    batch size; its forward returns logits, or probabilities with ``extra={"options":
    {"softmax": False}}``), or the path of a ``.pt2`` (``torch.export.save``) or ``.onnx`` file,
    copied (an ONNX graph's output is taken for probabilities unless ``options.softmax`` is set).
    ``images`` are training images (Pillow images, file paths or uint8 arrays), each prepared
    exactly as the server prepares an upload, for the statistics its out-of-distribution checks
    compare with; and run through the model, for its confidence on them. ``labels`` name the
    model's output columns in order; ``image`` is the manifest's image section; ``extra`` adds
    manifest fields (``outputs``, ``batching``, ``ood``, ``options``...). Up to ``samples`` of the
    images are kept as PNGs in the folder's ``samples/``.
    """
    folder = Path(out_dir)
    refuse_to_replace(folder, overwrite)
    if samples < 0:
        raise ValueError(f"samples must be 0 or more, not {samples}")
    runtime, artifact = _runtime_of(model)
    manifest: dict[str, Any] = {
        "name": name,
        "version": version,
        "runtime": runtime,
        "task": Task.image_classification.value,
        "description": description,
        "artifact": artifact,
        "image": (
            image.model_dump(mode="json", exclude_none=True)
            if isinstance(image, ImageInput)
            else dict(image)
        ),
        "outputs": {"labels": [str(label) for label in labels]},
    }
    merge_extra(manifest, extra)
    try:
        spec = Manifest.model_validate(manifest).image
    except Exception as exc:
        raise ManifestError(f"the manifest for {name} would be invalid: {exc}") from exc
    assert spec is not None  # the manifest has its image section
    with staged(folder) as staging:
        if isinstance(model, str | Path):
            shutil.copyfile(model, staging / artifact)
        else:
            export_module(model, spec, staging / artifact)
        draft = ModelFolder(manifest=Manifest.model_validate(manifest), path=staging)
        rows, stats = _measure(draft, images, samples)
        manifest["training_stats"] = {
            "rows": rows,
            "image": stats.model_dump(mode="json", exclude_none=True),
        }
        write_manifest(staging, manifest)
        read_manifest(staging)
    return read_manifest(folder)
