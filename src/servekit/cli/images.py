"""``servekit package`` for an image classifier: its training images found in a folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from servekit.cli.common import console, packaging_errors
from servekit.cli.common import fail as _fail

# The files taken for training images, by suffix (anything else in the folder is left alone).
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"})


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def find_images(root: Path, labels: list[str] | None) -> tuple[list[Path], list[str]]:
    """The training images under ``root`` and the model's labels.

    With one sub-folder per class, the labels are the sub-folders' names in sorted order (as
    torchvision's ``ImageFolder`` numbers classes, so the model's output columns follow them)
    unless ``labels`` gives them; images lying directly in ``root`` need ``labels``.
    """
    if not root.is_dir():
        raise _fail(f"--images takes a folder of training images, not {root}")
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if classes:
        found = [image for folder in classes for image in _images_in(folder)]
        names = [c.name for c in classes]
        if labels is not None and sorted(labels) != names:
            raise _fail(
                f"--labels ({', '.join(labels)}) are not the sub-folders of {root} "
                f"({', '.join(names)})"
            )
        labels = labels or names
    else:
        found = _images_in(root)
        if labels is None:
            raise _fail(
                f"{root} has no sub-folder per label: give the model's labels with --labels"
            )
    if not found:
        raise _fail(f"{root} holds no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return found, labels


def _size(text: str) -> list[int]:
    width, sep, height = text.lower().partition("x")
    try:
        return [int(width), int(height)] if sep else [int(text)] * 2
    except ValueError:
        raise _fail(
            f"--image-size takes WIDTHxHEIGHT (224x224) or one number, not {text!r}"
        ) from None


def _floats(text: str | None, option: str) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise _fail(f"{option} takes comma-separated numbers, not {text!r}") from None


def package_images(
    *,
    model: Path,
    images: Path,
    name: str,
    out: Path,
    version: str,
    labels: list[str] | None,
    description: str,
    overwrite: bool,
    image_size: str,
    mode: str,
    resample: str,
    layout: str,
    mean: str | None,
    std: str | None,
    softmax: bool | None,
) -> None:
    """Write the folder of a .pt2 or .onnx image classifier from its training images."""
    from servekit.repository.package_image import package_image_model

    if model.suffix not in (".pt2", ".onnx"):
        raise _fail(
            f"{model}: an image model is a torch.export program (.pt2, from torch.export.save) "
            "or an ONNX graph (.onnx)"
        )
    found, labels = find_images(images, labels)
    spec: dict[str, Any] = {
        "size": _size(image_size),
        "mode": mode,
        "resample": resample,
        "layout": layout,
    }
    if mean is not None or std is not None:
        spec |= {"mean": _floats(mean, "--mean"), "std": _floats(std, "--std")}
    extra = {"options": {"softmax": softmax}} if softmax is not None else None
    with packaging_errors(out):
        folder = package_image_model(
            model,
            found,
            out,
            name=name,
            labels=labels,
            image=spec,
            version=version,
            description=description,
            extra=extra,
            overwrite=overwrite,
        )
    console.print(
        f"wrote {folder.path} ({folder.manifest.key}, {len(labels)} labels, "
        f"{len(found)} training images)"
    )
