"""What the upload path itself costs per image, stage by stage, measured in-process.

Each stage runs servekit's own code (``servekit.api.uploads``, ``servekit.storage.uploads``,
``servekit.inputs.pixels`` and the image codec) on one image at a time, in a loop, and counts the
CPU time of the whole process (worker threads included: storing and decoding run there) per
image. On one saturated core, CPU time is what each image takes from every other.
"""

from __future__ import annotations

import hashlib
import io
import math
import resource
import shutil
import struct
import zlib
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import uvloop
from PIL import Image
from starlette.requests import Request
from starlette.types import Message

from servekit.api.uploads import FileFront
from servekit.inputs import pixels
from servekit.inputs.base import FilesForm
from servekit.inputs.image import ImageCodec
from servekit.repository.loader import read_manifest
from servekit.storage.uploads import Upload, UploadStore, UploadWriter

BOUNDARY = "servekitbench7d3f"
CHUNK = 65_536
"""The body reaches the app in pieces of this size (a socket read's worth)."""
BLOCKS = 5
"""Each stage is timed in this many blocks; the median block is reported."""
SMALL = 1 << 20
"""The stored files of an image smaller than this are kept (with the run's other files)."""
PARSING, HASHING, STORING, AGAIN, FRONT = (
    "multipart parsing",
    "hashing (SHA-256)",
    "storing",
    "storing content kept already",
    "the front as served",
)
OPENING, DECODING, PREPARING, CODEC = (
    "opening and checks",
    "decoding the pixels",
    "preparing",
    "the codec as served",
)
STAGES = (PARSING, HASHING, STORING, AGAIN, FRONT, OPENING, DECODING, PREPARING, CODEC)
EXPLAINED = {
    PARSING: "servekit's part reader, the body split by `one_part` when it came whole as one part, else by python-multipart; nothing kept",
    HASHING: "hashlib over the part's data, piece by piece",
    STORING: "a temp file written and moved under its hash: on the loop, at the end, for a file up to 64 KiB; else opened and written off the loop; hashing left out",
    AGAIN: "the same, for a file whose content is kept: the temp file moved over the kept one",
    FRONT: "`FileFront.form()` with the real store: the three above",
    OPENING: "`pixels.open_image`: Pillow identifies the file; format, pixel and frame checks",
    DECODING: "Pillow's `load()`: inflating and unfiltering the pixels",
    PREPARING: "`pixels.prepare` on the decoded image: grey, box resize to 8x8, scale",
    CODEC: "`ImageCodec.decode_now()`, else `decode()`, as `Predict` calls them: on the loop from memory for a small image (up to 64 KiB and 256x256 pixels), else a worker thread and the file opened; the three above",
}


@dataclass(frozen=True)
class ImageCost:
    """One image's cost at each stage, in microseconds of CPU."""

    label: str
    size: int
    """The file's bytes."""
    us: dict[str, Cpu]


def tagged(png: bytes, n: int) -> bytes:
    """The PNG with a text chunk carrying ``n`` after its header: the same pixels, another file.

    NOTE: the chunk needs its CRC (Pillow refuses a PNG with a wrong one). The wrk script of the
    image benchmark does the same in Lua.
    """
    data = b"tEXt" + b"n\0" + str(n).encode()
    chunk = struct.pack(">I", len(data) - 4) + data + struct.pack(">I", zlib.crc32(data))
    return png[:33] + chunk + png[33:]  # the signature (8 bytes) and IHDR (25) come first


def noise_png(size: int, seed: int = 0) -> bytes:
    """A PNG of seeded RGB noise of about ``size`` bytes (noise does not compress)."""
    side = math.isqrt(size // 3)
    noise = np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def multipart(png: bytes, name: str) -> bytes:
    """One file part, as curl -F file=@name sends it."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()
    return head + png + f"\r\n--{BOUNDARY}--\r\n".encode()


def _request(body: bytes) -> Request:
    """A request whose body arrives in pieces, as the server hands it over."""
    pieces = [body[i : i + CHUNK] for i in range(0, len(body), CHUNK)]
    sent = iter(enumerate(pieces, 1))

    async def receive() -> Message:
        i, piece = next(sent)
        return {"type": "http.request", "body": piece, "more_body": i < len(pieces)}

    headers = [(b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode())]
    return Request({"type": "http", "method": "POST", "path": "/", "headers": headers}, receive)


class _Discarding(UploadWriter):
    """A writer that keeps nothing: the front's parsing alone."""

    def __init__(self, store: UploadStore, name: str | None, max_bytes: int) -> None:
        self.store, self.name, self.max_bytes, self.size = store, name, max_bytes, 0

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)

    @property
    def due(self) -> bool:
        return False

    async def flush(self) -> None:
        return None

    async def finish(self) -> Upload:
        return Upload(sha256="", name=self.name, path=Path(), size=self.size)

    def discard(self) -> None:
        return None


class _ParsingOnly(UploadStore):
    def writer(self, name: str | None, max_bytes: int) -> UploadWriter:
        return _Discarding(self, name, max_bytes)


@dataclass(frozen=True)
class Cpu:
    """CPU microseconds per image: in all, and the kernel's part of it (system calls)."""

    us: float
    kernel_us: float

    def __sub__(self, other: Cpu) -> Cpu:
        return Cpu(self.us - other.us, self.kernel_us - other.kernel_us)


def _now() -> tuple[float, float]:
    """This process's CPU seconds so far, all its threads: in all, and in the kernel."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime, usage.ru_stime


def _per(start: tuple[float, float], count: int) -> Cpu:
    end = _now()
    return Cpu((end[0] - start[0]) / count * 1e6, (end[1] - start[1]) / count * 1e6)


def _median(blocks: list[Cpu]) -> Cpu:
    return sorted(blocks, key=lambda b: b.us)[len(blocks) // 2]


def _cpu(run: Callable[[int], object], count: int) -> Cpu:
    """The median block's CPU per call of ``run(i)``, ``i`` counting every call of every block."""
    blocks = []
    for block in range(BLOCKS):
        start = _now()
        for i in range(count):
            run(block * count + i)
        blocks.append(_per(start, count))
    return _median(blocks)


def _acpu(run: Callable[[int], Awaitable[Any]], count: int) -> Cpu:
    """``_cpu`` for a coroutine, on one uvloop loop (as the server's)."""

    async def blocks() -> list[Cpu]:
        out = []
        for block in range(BLOCKS):
            start = _now()
            for i in range(count):
                await run(block * count + i)
            out.append(_per(start, count))
        return out

    return _median(uvloop.run(blocks()))


@contextmanager
def _store(root: Path, keep: bool) -> Iterator[UploadStore]:
    """A store for one image's stages, deleted afterwards unless ``keep``.

    NOTE: files are deleted only at the end, and a small image's not at all. Deleting thousands of
    files makes creating the next ones in that filesystem slow for a while (ext4 skips
    recently deleted inodes, and its search for a free one reads inode table blocks): right after
    ``rm -rf`` of 15,000 files, storing a file took 1.4 ms of kernel time instead of 0.1 ms.
    """
    store = UploadStore(root, max_total_bytes=1 << 40, max_age_s=None, interval_s=3600)
    store.prepare()
    try:
        yield store
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def measure(label: str, png: bytes, model: Path, work: Path, count: int) -> ImageCost:
    """Every stage's CPU microseconds for this image, ``count`` times a block."""
    manifest = read_manifest(model).manifest
    assert manifest.image is not None
    spec, limit = manifest.image, manifest.image.max_bytes
    # Distinct files, as clients send: each upload is stored anew, none found stored already.
    bodies = [multipart(tagged(png, i), "image.png") for i in range(count * BLOCKS)]
    us: dict[str, Cpu] = {}
    with _store(work, keep=len(png) < SMALL) as store:
        parsing = _ParsingOnly(store.root, max_total_bytes=1, max_age_s=None, interval_s=1)
        us[PARSING] = _acpu(
            lambda i: FileFront(_request(bodies[i]), parsing, 1, limit).form(), count
        )
        pieces = [png[i : i + CHUNK] for i in range(0, len(png), CHUNK)]

        def hashing(_: int) -> None:
            digest = hashlib.sha256()
            for piece in pieces:
                digest.update(piece)
            digest.hexdigest()

        us[HASHING] = _cpu(hashing, count)
        files = [tagged(png, -i) for i in range(1, count * BLOCKS + 1)]  # others than the bodies'

        async def storing(i: int) -> Upload:
            writer, data = store.writer("image.png", limit), files[i]
            for at in range(0, len(data), CHUNK):
                writer.write(data[at : at + CHUNK])
                if writer.due:
                    await writer.flush()
            return await writer.finish()

        us[STORING] = _acpu(storing, count) - us[HASHING]
        us[AGAIN] = _acpu(storing, count) - us[HASHING]
        us[FRONT] = _acpu(lambda i: FileFront(_request(bodies[i]), store, 1, limit).form(), count)

        def opening(_: int) -> None:
            pixels.open_image(io.BytesIO(png), spec).close()

        def decoding(_: int) -> None:
            with pixels.open_image(io.BytesIO(png), spec) as image:
                image.load()

        us[OPENING] = _cpu(opening, count)
        us[DECODING] = _cpu(decoding, count) - us[OPENING]
        decoded = pixels.open_image(io.BytesIO(png), spec)
        decoded.load()
        us[PREPARING] = _cpu(lambda _: pixels.prepare(decoded, spec), count)
        codec = ImageCodec(manifest, max_rows=16, uploads=store)
        upload = store.store(png, "image.png")
        form = FilesForm([upload])

        async def codec_as_served(_: int) -> object:
            return codec.decode_now(form) or await codec.decode(form)

        us[CODEC] = _acpu(codec_as_served, count)
    return ImageCost(label=label, size=len(png), us=us)


def costs(sample: Path, big: bytes, model: Path, work: Path, quick: bool) -> list[ImageCost]:
    """The small sample and the large image, each through every stage."""
    small, large = (40, 2) if quick else (1000, 12)
    return [
        measure(f"{sample.name} (64x64 grey)", sample.read_bytes(), model, work / "small", small),
        measure(f"noise, {len(big) / 1e6:.1f} MB", big, model, work / "large", large),
    ]


def _cell(cpu: Cpu) -> str:
    kernel = f" ({cpu.kernel_us:,.0f} kernel)" if cpu.kernel_us >= max(5.0, 0.1 * cpu.us) else ""
    return f"{cpu.us:,.0f}{kernel}"


def section(found: list[ImageCost], small_us: float, large_us: float) -> list[str]:
    """The stages, CPU microseconds per image (the kernel's part where it counts), an image a column.

    ``small_us`` and ``large_us``: the server's whole CPU per image of each, from the HTTP runs.
    """
    lines = [
        "### The upload path, stage by stage",
        "",
        f"Measured in-process with servekit's own code on one image at a time (uvloop, as the server), {BLOCKS} blocks per stage, the median block; CPU time of the whole process (worker threads included) per image, with the kernel's part (system calls) where it is at least a tenth. Each upload a distinct file, so stored anew. The body reaches the front in {CHUNK // 1024} KiB pieces.",
        "",
        "| stage | what runs | " + " | ".join(c.label for c in found) + " |",
        "|---|---|" + "---|" * len(found),
    ]
    for stage in STAGES:
        cells = " | ".join(_cell(c.us[stage]) for c in found)
        lines.append(f"| {stage} | {EXPLAINED[stage]} | {cells} |")
    total = " | ".join(f"{c.us[FRONT].us + c.us[CODEC].us:,.0f}" for c in found)
    lines += [
        f"| **upload path in all** | the front and the codec as served | {total} |",
        f"| the whole request, in the server | its CPU per image over HTTP (above) | {small_us:,.0f} | {large_us:,.0f} |",
        "",
    ]
    return lines
