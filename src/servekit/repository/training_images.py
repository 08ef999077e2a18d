"""Training images as packaging takes them (Pillow images, files, uint8 arrays), and their samples."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

TrainingImage = Image.Image | str | Path | np.ndarray
"""A Pillow image, an image file's path, or a uint8 array (height x width, or x channels)."""

_ARRAY_CHANNELS = (1, 3, 4)
# What PNG stores as it is; a sample in any other mode (CMYK, YCbCr, float) is saved as RGB.
_PNG_MODES = frozenset({"1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"})


def from_array(array: Any, where: str) -> Image.Image:
    """A Pillow image of a uint8 array: grey (h, w) or (h, w, 1), RGB (h, w, 3), RGBA (h, w, 4)."""
    values = np.asarray(array)
    if values.dtype != np.uint8:
        # NOTE: never rescaled here: 0-1 floats or 0-16 counts would need a guess at their range,
        # and a wrong guess gives statistics of images the server will never see.
        raise ValueError(f"{where}: an image array must be uint8 (0-255), not {values.dtype}")
    if values.ndim == 3 and values.shape[2] == 1:
        values = values[:, :, 0]
    channels = 1 if values.ndim == 2 else values.shape[2] if values.ndim == 3 else 0
    if channels not in _ARRAY_CHANNELS:
        raise ValueError(
            f"{where}: an image array is (height, width) or (height, width, 1, 3 or 4 channels), "
            f"not {values.shape}"
        )
    # Pillow reads the mode from the shape: L, RGB or RGBA.
    return Image.fromarray(np.ascontiguousarray(values))


@contextmanager
def opened(item: TrainingImage, where: str) -> Iterator[Image.Image]:
    """The training image as Pillow holds it, a file opened lazily (as the server opens uploads)."""
    if isinstance(item, Image.Image):
        yield item
    elif isinstance(item, str | Path):
        with Image.open(item) as image:
            yield image
    elif isinstance(item, np.ndarray):
        yield from_array(item, where)
    else:
        raise TypeError(
            f"{where}: a training image is a PIL image, a file path or a uint8 array, "
            f"not {type(item).__name__}"
        )


def save_sample(item: TrainingImage, target: Path, where: str) -> None:
    """Write the training image as a PNG, upright (its EXIF orientation applied)."""
    with opened(item, where) as image:
        upright = ImageOps.exif_transpose(image)
        if upright.mode not in _PNG_MODES:
            upright = upright.convert("RGB")
        upright.save(target, format="PNG")
