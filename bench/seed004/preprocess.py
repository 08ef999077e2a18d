"""One image file into the array the digits model takes, as the model folder's ``image:`` says.

A reimplementation (Pillow and numpy) of what servekit does to an upload
(``servekit.inputs.pixels.prepare``), so that both servers feed the model the same numbers: the
image upright (EXIF), transparency onto white, converted to ``mode``, resized to ``size`` with
``resample``, inverted if asked, multiplied by ``scale``, normalised by ``mean``/``std`` if given,
laid out as ``layout``. Left out, since they only refuse files or describe them: servekit's format
sniffing, pixel and frame limits, decompression-bomb checks and its mean/contrast statistics.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from servekit.repository.images import ImageInput

ORIENTATION = 0x0112
"""The EXIF tag of the orientation; 1 is upright."""
RESAMPLE = {
    "nearest": Image.Resampling.NEAREST,
    "box": Image.Resampling.BOX,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}


def _decoded(image: Image.Image, spec: ImageInput) -> Image.Image:
    """The image's pixels, upright, transparency made white, in the model's colour mode."""
    if image.format == "JPEG":
        # As servekit: a JPEG is decoded at 1/2, 1/4 or 1/8 scale when the resize allows it,
        # which changes the pixels slightly; the same call keeps the two servers' inputs equal.
        image.draft(spec.mode, spec.size)
    image.load()
    if image.getexif().get(ORIENTATION, 1) != 1:
        image = ImageOps.exif_transpose(image)
    if "A" in image.getbands() or "transparency" in image.info:
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
    return image if image.mode == spec.mode else image.convert(spec.mode)


def prepare(image: Image.Image, spec: ImageInput) -> Any:
    """The float32 array of one opened image, shaped ``spec.shape``."""
    pixels = _decoded(image, spec).resize(spec.size, RESAMPLE[spec.resample])
    values: Any = np.asarray(pixels, dtype=np.float32)
    if values.ndim == 2:
        values = values[:, :, np.newaxis]
    if spec.invert:
        values = np.float32(255) - values
    # NOTE: multiplied by float32(scale), not divided by 255, as servekit (and the training) does:
    # the two differ in the last bit of some values.
    values *= np.float32(spec.scale)
    if spec.mean is not None and spec.std is not None:
        values = (values - np.asarray(spec.mean, np.float32)) / np.asarray(spec.std, np.float32)
    if spec.layout == "CHW":
        values = values.transpose(2, 0, 1)
    return np.ascontiguousarray(values, dtype=np.float32)


def read(path: Path, spec: ImageInput) -> Any:
    """Open the stored file and prepare it (OSError, ValueError and the like if it is no image)."""
    with Image.open(path) as image:
        return prepare(image, spec)
