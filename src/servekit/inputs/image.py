"""Images: uploaded files or base64 in JSON, stored by hash, decoded off the loop into arrays."""

from __future__ import annotations

import base64
import binascii
import io
import json
import math
import os
from collections.abc import Sequence
from typing import IO, Annotated, Any, ClassVar, NotRequired, overload

import anyio
import anyio.to_thread
import numpy as np
from PIL import Image
from pydantic import ConfigDict, Field, TypeAdapter, create_model
from pydantic_core import to_json
from typing_extensions import TypedDict

from servekit.drift.ood import OODWarning, range_bounds
from servekit.exceptions import FileTooLarge, InvalidImage, ServekitError, UnsupportedMediaType
from servekit.inputs import pixels
from servekit.inputs.base import (
    FileLimits,
    FilesForm,
    Form,
    InputCodec,
    JsonForm,
    parse_json,
    unsupported,
)
from servekit.inputs.tabular_schema import one_or_many
from servekit.repository.images import ImageInput
from servekit.repository.manifest import InputKind, Manifest
from servekit.runtimes.base import Row, RowOutput
from servekit.storage.uploads import INLINE_BYTES, Upload, UploadStore

MAX_NAME = 255
LOGGED = ("sha256", "name", "format", "width", "height")
"""What the prediction log keeps of an image row: never its bytes."""
DATA_URL = "data:"
JSON_OVERHEAD = 65_536
"""Bytes of a JSON body beyond its base64 text (keys, names, a data URL's prefix)."""
DEFAULT_MAX_IMAGES = 16
"""Images one request may carry unless the manifest's ``batching.max_request_rows`` says otherwise."""
INLINE_PIXELS = 256 * 256
"""An image held in memory with at most this many pixels is decoded on the event loop.

NOTE: a 64x64 PNG takes about 60 us to open, decode and prepare, a trip to a worker thread about
50 us more; a 256x256 one well under a millisecond. Larger images (and any file on disk) go to
the worker threads, where one slow decode holds up no other request.
"""


def _source(upload: Upload) -> IO[bytes]:
    """The file's bytes: from memory where the upload holds them, else from the store."""
    return open(upload.path, "rb") if upload.content is None else io.BytesIO(upload.content)


def _fmt(x: float) -> str:
    return f"{x:.4g}"


class ImageCodec(InputCodec):
    """One image per input: a file of a multipart upload, or ``{"image": <base64>}`` in JSON."""

    kind: ClassVar[InputKind] = InputKind.image
    forms: ClassVar[frozenset[type[Any]]] = frozenset({JsonForm, FilesForm})
    names_rows: ClassVar[bool] = True
    checks_outputs: ClassVar[bool] = True

    def __init__(self, manifest: Manifest, *, max_rows: int, uploads: UploadStore | None) -> None:
        if manifest.batching.max_request_rows is None:
            max_rows = min(max_rows, DEFAULT_MAX_IMAGES)
        super().__init__(manifest, max_rows=max_rows)
        assert manifest.image is not None
        self.spec: ImageInput = manifest.image
        self.uploads = uploads
        pixels.refuse_bombs()
        self.max_text = math.ceil(self.spec.max_bytes / 3) * 4
        # One image of the largest size, or several smaller: larger batches go as files.
        self.json_body_bytes = self.max_text + JSON_OVERHEAD
        typed_dict: Any = TypedDict  # built from run-time limits, which type checkers cannot follow
        row = typed_dict(
            "ImageRow",
            {
                # Bounded by the body's limit; a decoded image over max_bytes is a 413.
                "image": str,
                "name": NotRequired[Annotated[str, Field(max_length=MAX_NAME)] | None],
            },
        )
        row.__pydantic_config__ = ConfigDict(extra="forbid")
        batch = typed_dict(
            "ImageRows",
            {"instances": Annotated[list[row], Field(min_length=1, max_length=max_rows)]},  # type: ignore[valid-type]
        )
        batch.__pydantic_config__ = ConfigDict(extra="forbid")
        self.body: TypeAdapter[Any] = TypeAdapter(one_or_many(row, batch))
        self._limiter: anyio.CapacityLimiter | None = None
        stats = manifest.training_stats.image if manifest.training_stats else None
        margin = manifest.ood.range_margin
        self.ranges = [
            (key, label, s, *range_bounds(s, margin))
            for key, label, s in (
                ("pixel_mean", "mean intensity", stats.mean if stats else None),
                (
                    "pixel_std",
                    "contrast (standard deviation of intensity)",
                    stats.std if stats else None,
                ),
            )
            if s is not None
        ]
        self.confidence = stats.confidence if stats else None
        self._example = self._blank_png()

    def _blank_png(self) -> str:
        buffer = io.BytesIO()
        Image.new(self.spec.mode, self.spec.size).save(buffer, "PNG")
        return base64.b64encode(buffer.getvalue()).decode()

    @property
    def limiter(self) -> anyio.CapacityLimiter:
        """Images decoded at once (one per core): decoding is CPU work on worker threads."""
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(os.cpu_count() or 1)
        return self._limiter

    def decode_now(self, form: Form) -> list[Row] | None:
        """Small uploaded images held in memory, decoded on the loop; None for anything else."""
        if type(form) is not FilesForm:
            return None
        files = form.files
        if not all(f.content is not None and f.size <= INLINE_BYTES for f in files):
            return None
        rows: list[Row] = []
        for i, upload in enumerate(files):
            row = self._prepare(i, upload, max_pixels=INLINE_PIXELS)
            if row is None:
                return None  # a small file of many pixels: all of them on the worker threads
            rows.append(row)
        return rows

    async def decode(self, form: Form) -> list[Row]:
        """Store each image by hash, then check and prepare it for the model (off the event loop)."""
        if type(form) is FilesForm:
            uploads: Sequence[Upload] = form.files
        elif type(form) is JsonForm:
            uploads = await anyio.to_thread.run_sync(
                self._store_json, form.body, limiter=self.limiter
            )
        else:
            raise unsupported(self, form)
        return await anyio.to_thread.run_sync(self._prepare_all, uploads, limiter=self.limiter)

    def _store_json(self, body: bytes) -> list[Upload]:
        parsed = parse_json(self.body, body)
        batch = "instances" in parsed
        items = parsed["instances"] if batch else [parsed]
        where = [
            ["body", "instances", i, "image"] if batch else ["body", "image"]
            for i in range(len(items))
        ]
        datas = [self._base64(i, item["image"], where[i]) for i, item in enumerate(items)]
        return [
            self._store(data, item.get("name")) for data, item in zip(datas, items, strict=True)
        ]

    def _base64(self, index: int, text: str, loc: list[Any]) -> bytes:
        if text.startswith(DATA_URL):  # a data URL, as a browser's FileReader writes it
            text = text.partition(",")[2]
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidImage(
                f"image {index} is not valid base64",
                errors=[
                    {
                        "loc": loc,
                        "msg": "not valid base64",
                        "type": "invalid_base64",
                    }
                ],
            ) from None
        if len(data) > self.spec.max_bytes:
            raise FileTooLarge(
                f"image {index} is {len(data):,} bytes; this model's limit is {self.spec.max_bytes:,}"
            )
        if not data:
            raise InvalidImage(f"image {index} is empty")
        return data

    def _store(self, data: bytes, name: str | None) -> Upload:
        if self.uploads is None:
            raise ServekitError("this process keeps no uploads")
        return self.uploads.store(data, name)

    def _prepare_all(self, uploads: Sequence[Upload]) -> list[Row]:
        return [self._prepare(i, upload) for i, upload in enumerate(uploads)]

    @overload
    def _prepare(self, index: int, upload: Upload) -> Row: ...

    @overload
    def _prepare(self, index: int, upload: Upload, *, max_pixels: int) -> Row | None: ...

    def _prepare(self, index: int, upload: Upload, *, max_pixels: int | None = None) -> Row | None:
        """The row of one image; None if it has more than ``max_pixels`` (left undecoded)."""
        said = f"file {index}" + (f" ({upload.name})" if upload.name else "")
        try:
            if upload.size == 0:
                raise InvalidImage("the file is empty")
            with _source(upload) as file, pixels.open_image(file, self.spec) as image:
                if max_pixels is not None and image.width * image.height > max_pixels:
                    return None
                prepared = pixels.prepare(image, self.spec)
        except UnsupportedMediaType as exc:
            self._forget(upload)
            raise UnsupportedMediaType(f"{said}: {exc}") from None
        except InvalidImage as exc:
            self._forget(upload)
            raise InvalidImage(
                f"{said}: {exc}",
                errors=[{"loc": ["file", index], "msg": str(exc), "type": "invalid_image"}],
            ) from None
        return {
            "image": prepared.array,
            "sha256": upload.sha256,
            "name": upload.name,
            "format": prepared.format,
            "width": prepared.width,
            "height": prepared.height,
            "pixel_mean": prepared.mean,
            "pixel_std": prepared.std,
        }

    def _forget(self, upload: Upload) -> None:
        # Not an image this model takes: nothing is kept of it.
        if self.uploads is not None:
            self.uploads.forget(upload)

    def file_limits(self) -> FileLimits:
        """Up to ``max_rows`` files, each within the manifest's bytes and pixels."""
        spec = self.spec
        return FileLimits(
            max_files=self.max_rows,
            max_bytes=spec.max_bytes,
            description=f"1 to {self.max_rows} images ({self._formats()}), each at most "
            f"{spec.max_bytes:,} bytes and {spec.max_pixels:,} pixels; a row each",
        )

    def json_schema_type(self) -> Any:
        """One image in base64, or a batch of them under ``instances``."""
        instance = create_model(
            "ImageInstance",
            __config__=ConfigDict(extra="forbid"),
            image=(str, Field(description=f"The image file ({self._formats()}), in base64")),
            name=(str | None, Field(default=None, description="A file name to show back")),
        )
        batch = create_model(
            "ImageInstances",
            __config__=ConfigDict(extra="forbid"),
            instances=(list[instance], Field(min_length=1, max_length=self.max_rows)),
        )
        return one_or_many(instance, batch)

    def _formats(self) -> str:
        return ", ".join(f.value for f in self.spec.formats)

    def example(self) -> dict[str, Any]:
        """A blank image of the model's size, as PNG in base64."""
        return {"image": self._example, "name": "blank.png"}

    def describe(self) -> dict[str, Any]:
        """The accepted files, their limits and the preprocessing."""
        return {
            "input": "image",
            "image": self.spec.model_dump(mode="json"),
            "max_files": self.max_rows,
        }

    def check(self, rows: list[Row]) -> list[list[OODWarning]]:
        """Intensity and contrast outside what the training images had."""
        found: list[list[OODWarning]] = [[] for _ in rows]
        for i, row in enumerate(rows):
            for key, label, stats, lo, hi in self.ranges:
                value = row[key]
                if not lo <= value <= hi:
                    found[i].append(
                        OODWarning(
                            feature=key,
                            kind="out_of_range",
                            value=round(value, 4),
                            expected=f"between {_fmt(lo)} and {_fmt(hi)}",
                            message=f"the image's {label} is {_fmt(value)}; the training images' "
                            f"was between {_fmt(stats.min)} and {_fmt(stats.max)}",
                        )
                    )
        return found

    def check_outputs(self, rows: list[Row], outputs: list[RowOutput]) -> list[list[OODWarning]]:
        """A confidence below what the model gave 99% of its training images."""
        found: list[list[OODWarning]] = [[] for _ in rows]
        if self.confidence is None:
            return found
        floor = self.confidence.q01
        for i, out in enumerate(outputs):
            score = (out.extra or {}).get("score")
            if isinstance(score, float) and score < floor:
                found[i].append(
                    OODWarning(
                        feature="confidence",
                        kind="low_confidence",
                        value=round(score, 4),
                        expected=f"at least {_fmt(floor)}",
                        message=f"the model's confidence is {_fmt(score)}, below what it gave 99% "
                        f"of its training images ({_fmt(floor)})",
                    )
                )
        return found

    def to_wire(self, rows: list[Row]) -> str:
        """JSON: each row's metadata and its prepared array (float32, base64)."""
        return json.dumps(
            [
                {
                    **{k: row[k] for k in (*LOGGED, "pixel_mean", "pixel_std")},
                    "image": base64.b64encode(row["image"].tobytes()).decode(),
                }
                for row in rows
            ],
            separators=(",", ":"),
        )

    def from_wire(self, data: bytes | str) -> list[Row]:
        """The rows with their arrays again, in the model's shape."""
        shape = self.spec.shape
        rows: list[Row] = json.loads(data)
        for row in rows:
            array = np.frombuffer(base64.b64decode(row["image"]), dtype=np.float32)
            row["image"] = array.reshape(shape)
        return rows

    def logged(self, rows: list[Row]) -> Sequence[Any]:
        """The file's hash, name, format and size: the log never holds an image."""
        return [{k: row[k] for k in LOGGED} for row in rows]

    def answer_fields(self, row: Row) -> bytes:
        """``"file": {"sha256", "name"}``: which stored file the answer is about."""
        return b',"file":' + to_json({"sha256": row["sha256"], "name": row["name"]})
