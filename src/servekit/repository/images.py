"""The manifest's ``image`` section: which files a model takes, and how they become its input array."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, Self

from pydantic import Field, model_validator

from servekit.repository.strict import Strict


class ImageFormat(StrEnum):
    """A file format a model may accept, by Pillow's name for it (lower case)."""

    png = "png"
    jpeg = "jpeg"
    webp = "webp"
    gif = "gif"
    bmp = "bmp"
    tiff = "tiff"


class ImageInput(Strict):
    """What image files a model takes, their limits, and the preprocessing to its input array.

    A file is decoded (EXIF orientation applied), converted to ``mode``, resized to ``size``,
    multiplied by ``scale``, normalised per channel by ``mean`` and ``std``, and laid out as
    ``layout``: the array the runtime stacks into one batch.
    """

    formats: list[ImageFormat] = Field(
        default=[ImageFormat.png, ImageFormat.jpeg, ImageFormat.webp], min_length=1
    )
    """The accepted file formats (a file in any other is a 415)."""
    max_bytes: int = Field(default=10_000_000, gt=0)
    """The largest file, in bytes (a larger one is a 413, counted as it arrives)."""
    max_pixels: int = Field(default=16_000_000, gt=0)
    """The most pixels (width x height) a file may declare: more is refused before decoding."""
    mode: Literal["L", "RGB"] = "RGB"
    """Colour mode the model takes: ``L`` (grey, one channel) or ``RGB`` (three)."""
    size: tuple[int, int] = Field()
    """``[width, height]`` the image is resized to."""
    resample: Literal["nearest", "box", "bilinear", "bicubic", "lanczos"] = "bilinear"
    """The resize filter (every one but ``nearest`` averages the pixels it shrinks)."""
    scale: float = Field(default=1 / 255, gt=0)
    """Each 0-255 pixel value is multiplied by this (1/255 gives 0-1)."""
    mean: list[float] | None = None
    """Per channel, subtracted after scaling (with ``std``: ImageNet's is 0.485, 0.456, 0.406)."""
    std: list[float] | None = None
    """Per channel, divided by after ``mean`` is subtracted."""
    layout: Literal["CHW", "HWC"] = "CHW"
    """The array's axes: channels first (PyTorch) or last (many ONNX and Keras models)."""
    invert: bool = False
    """Take 255 - value first, for a model trained on light marks on dark (as scans often are)."""

    @model_validator(mode="after")
    def _check(self) -> Self:
        if min(self.size) < 1 or max(self.size) > 8192:
            raise ValueError(f"size must be [width, height] between 1 and 8192, not {self.size}")
        channels = self.channels
        for name in ("mean", "std"):
            values = getattr(self, name)
            if values is not None and len(values) != channels:
                raise ValueError(f"{name} needs {channels} value(s) for mode {self.mode}")
        if (self.mean is None) != (self.std is None):
            raise ValueError("mean and std go together: give both or neither")
        if self.std is not None and any(s <= 0 for s in self.std):
            raise ValueError("std values must be positive")
        return self

    @property
    def channels(self) -> int:
        """1 for ``L``, 3 for ``RGB``."""
        return 1 if self.mode == "L" else 3

    @property
    def shape(self) -> tuple[int, int, int]:
        """The shape of one image's array."""
        width, height = self.size
        if self.layout == "CHW":
            return (self.channels, height, width)
        return (height, width, self.channels)
