"""Reading an image file safely and turning it into the array a model takes (Pillow and numpy)."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import IO, Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from servekit.exceptions import InvalidImage, UnsupportedMediaType
from servekit.repository.images import ImageInput

SNIFFED = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")
"""The formats Pillow may even try to read an upload as.

NOTE: never every plugin Pillow has: some hand files to other programs (EPS to Ghostscript), and
each one is more parser exposed to strangers' bytes.
"""
ORIENTATION = 0x0112
TURNED = frozenset({5, 6, 7, 8})
"""EXIF orientations that turn the image a quarter: its width and height swap."""
TRANSPOSED = frozenset({2, 3, 4, *TURNED})
"""EXIF orientations other than upright (1): the pixels are flipped or turned to be shown."""
_RESAMPLE = {
    "nearest": Image.Resampling.NEAREST,
    "box": Image.Resampling.BOX,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}


def refuse_bombs() -> None:
    """Make Pillow's decompression-bomb warning an error in this process, never a warning that passes.

    NOTE: servekit checks each file's declared pixels against its model's ``max_pixels`` before
    decoding; this is the second line, for a limit set above Pillow's own (89 million pixels).
    """
    warnings.filterwarnings("error", category=Image.DecompressionBombWarning)


@dataclass(frozen=True, slots=True)
class Prepared:
    """One image as the model takes it, and what it looked like before normalisation."""

    array: Any
    """float32, ``spec.shape``."""
    width: int
    height: int
    """As shown: after EXIF's orientation."""
    format: str
    """The file's format, lower case (``png``)."""
    mean: float
    """Mean intensity after scaling (0-1 by default), before normalisation."""
    std: float
    """Standard deviation of intensity, likewise."""


def open_image(file: IO[bytes], spec: ImageInput) -> Image.Image:
    """Identify the file from its header and check format, pixels and frames; nothing is decoded yet."""
    accepted = ", ".join(f.value for f in spec.formats)
    try:
        image = Image.open(file, formats=SNIFFED)
    except UnidentifiedImageError:
        raise UnsupportedMediaType(
            f"the file is not an image in a format this model accepts ({accepted})"
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidImage(f"the image has too many pixels: {exc}") from None
    found = (image.format or "").lower()
    if found not in {f.value for f in spec.formats}:
        raise UnsupportedMediaType(f"the file is a {found} image; this model accepts {accepted}")
    pixels = image.width * image.height
    if pixels > spec.max_pixels:
        raise InvalidImage(
            f"the image is {image.width}x{image.height} = {pixels:,} pixels; "
            f"this model takes at most {spec.max_pixels:,}"
        )
    frames = getattr(image, "n_frames", 1)
    if frames > 1:
        raise InvalidImage(
            f"the image has {frames} frames (animated or multi-page); this model takes one "
            "still image, and servekit does not pick a frame for it"
        )
    return image


def _decoded(image: Image.Image, spec: ImageInput) -> tuple[Image.Image, int, int]:
    """The decoded image, upright and in the model's mode; and its size as shown."""
    width, height = image.size
    if image.format == "JPEG":
        # A JPEG can be decoded at 1/2, 1/4 or 1/8 scale for free: no larger than the resize needs.
        image.draft(spec.mode, spec.size)
    try:
        image.load()
        orientation = image.getexif().get(ORIENTATION)
        if orientation in TURNED:
            width, height = height, width  # as shown, once EXIF's rotation is applied
        if orientation in TRANSPOSED:
            # Not called for an upright image: it would copy it for nothing.
            image = ImageOps.exif_transpose(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidImage(f"the image has too many pixels: {exc}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidImage(f"the image is truncated or corrupt: {exc}") from None
    if "A" in image.getbands() or "transparency" in image.info:
        # Transparent pixels become white, as a page under a drawing shows them.
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
    return (image if image.mode == spec.mode else image.convert(spec.mode)), width, height


def prepare(image: Image.Image, spec: ImageInput) -> Prepared:
    """Decode, orient, convert, resize, scale, normalise and lay out one opened image."""
    found = (image.format or "").lower()
    decoded, width, height = _decoded(image, spec)
    pixels = decoded.resize(spec.size, _RESAMPLE[spec.resample])
    values: Any = np.asarray(pixels, dtype=np.float32)
    if values.ndim == 2:
        values = values[:, :, np.newaxis]
    if spec.invert:
        values = np.float32(255) - values
    values *= np.float32(spec.scale)
    # NOTE: the two moments by hand, in float64: numpy's mean() and std() cost 15 us on a small
    # image, mostly their own Python; this costs 4.
    flat = values.astype(np.float64).ravel()
    mean = float(flat.sum()) / flat.size
    centered = flat - mean
    std = math.sqrt(float(np.dot(centered, centered)) / flat.size)
    if spec.mean is not None and spec.std is not None:
        values = (values - np.asarray(spec.mean, np.float32)) / np.asarray(spec.std, np.float32)
    if spec.layout == "CHW":
        values = values.transpose(2, 0, 1)
    array = np.ascontiguousarray(values, dtype=np.float32)
    return Prepared(array=array, width=width, height=height, format=found, mean=mean, std=std)


def read(file: IO[bytes], spec: ImageInput) -> Prepared:
    """Open, check and prepare one image file (InvalidImage or UnsupportedMediaType if it is bad)."""
    with open_image(file, spec) as image:
        return prepare(image, spec)
