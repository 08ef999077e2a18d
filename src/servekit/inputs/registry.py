"""The codec of each kind of input, chosen by the manifest."""

from __future__ import annotations

from servekit.inputs.base import InputCodec
from servekit.inputs.tabular import TabularCodec
from servekit.repository.manifest import InputKind, Manifest
from servekit.storage.uploads import UploadStore

DEFAULT_MAX_ROWS = 1024
"""Rows of one request where no server limit applies (a worker decodes what the API let in)."""


def codec_for(
    manifest: Manifest, *, max_rows: int = DEFAULT_MAX_ROWS, uploads: UploadStore | None = None
) -> InputCodec:
    """The codec of the model's input kind; ``uploads`` is where image files are kept."""
    if manifest.input_kind is InputKind.image:
        from servekit.inputs.image import ImageCodec  # Pillow is read only for image models

        return ImageCodec(manifest, max_rows=max_rows, uploads=uploads)
    if manifest.input_kind is InputKind.series:
        from servekit.inputs.series import SeriesCodec  # pandas' date logic for forecasters only

        return SeriesCodec(manifest, max_rows=max_rows)
    if manifest.input_kind is InputKind.text:
        from servekit.inputs.text import TextCodec

        return TextCodec(manifest, max_rows=max_rows)
    return TabularCodec(manifest, max_rows=max_rows)
