"""The file-upload front: a multipart body streamed into the upload store, a row per file."""

from __future__ import annotations

import re
from email.message import Message
from typing import Any

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from servekit.api.fronts import HttpFront
from servekit.exceptions import ClientDisconnected, InputError, UnsupportedMediaType
from servekit.inputs.base import FilesForm, Form
from servekit.storage.uploads import Upload, UploadStore, UploadWriter

FIELD = "file"
"""The form field documented for uploads (any file part is taken, whatever its name)."""
TOKEN = b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
"""The characters of a header's name (RFC 9110's tchar)."""
USUAL = "multipart/form-data; boundary="
PLAIN_BOUNDARY = re.compile(r"[0-9A-Za-z'()+_,\-./:=?]{1,70}")
"""A boundary without quotes or spaces (RFC 2046's bchars): read as it is."""
MAX_PART_HEAD = 4096
"""A part's headers beyond this are left to the full parser (and its own limits)."""


def one_part(body: bytes, boundary: bytes) -> tuple[list[tuple[bytes, bytes]], bytes] | None:
    """A whole body of exactly one part in the shape curl and browsers send: its headers and data.

    None for anything else (several parts, a preamble, odd headers): the full parser reads it.
    NOTE: python-multipart walks a part's headers byte by byte in Python, about 30 us for one
    small file; this finds the same pieces with a few searches.
    """
    opening = b"--" + boundary + b"\r\n"
    closing = b"\r\n--" + boundary + b"--"
    end = body.rfind(closing)
    if not body.startswith(opening) or end < 0 or body[end + len(closing) :] not in (b"", b"\r\n"):
        return None
    start = len(opening)
    head_end = body.find(b"\r\n\r\n", start, min(end, start + MAX_PART_HEAD))
    if head_end < 0 or body.find(b"\r\n--" + boundary, head_end, end) >= 0:
        return None
    headers = []
    for line in body[start:head_end].split(b"\r\n"):
        name, colon, value = line.partition(b":")
        if not colon or not name or name.translate(None, TOKEN):
            return None
        headers.append((name, value.lstrip(b" ")))
    return headers, body[head_end + 4 : end]


def _boundary(content_type: str | None) -> bytes:
    if content_type is not None and content_type.startswith(USUAL):
        plain = content_type[len(USUAL) :]
        if PLAIN_BOUNDARY.fullmatch(plain):
            return plain.encode("ascii")  # as curl and browsers send it: no parsing
    message = Message()
    message["content-type"] = content_type or ""
    boundary = message.get_param("boundary")
    if message.get_content_type() != "multipart/form-data" or not isinstance(boundary, str):
        sent = f"Content-Type {content_type!r}" if content_type else "no Content-Type"
        raise UnsupportedMediaType(
            f"send the images as multipart/form-data, one file part each (got {sent}); "
            "with curl: -F file=@image.png"
        )
    return boundary.encode("latin-1")


class _Reader:
    """The multipart parser's callbacks: each file part goes to its own writer as it arrives."""

    def __init__(self, store: UploadStore, max_files: int, max_bytes: int) -> None:
        self.store = store
        self.max_files = max_files
        self.max_bytes = max_bytes
        self.writers: list[UploadWriter] = []
        self.done: list[UploadWriter] = []
        self._field = b""
        self._headers: dict[bytes, bytes] = {}
        self._header = b""
        self._value = b""
        self._current: UploadWriter | None = None

    def callbacks(self) -> Any:
        """The parser's callbacks, by name."""
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
        }

    def part(self, headers: list[tuple[bytes, bytes]], data: bytes) -> None:
        """A whole part at once (``one_part``), as the parser's callbacks would have seen it."""
        self.on_part_begin()
        for self._header, self._value in headers:
            self.on_header_end()
        self.on_headers_finished()
        self.on_part_data(data, 0, len(data))
        self.on_part_end()

    def on_part_begin(self) -> None:
        self._headers = {}

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._header.lower()] = self._value
        self._header = self._value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        field = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        if filename is None:
            raise InputError(
                f"the form field {field!r} is not a file: send each image as a file part "
                f"({FIELD}=@image.png with curl)"
            )
        if len(self.writers) >= self.max_files:
            raise InputError(
                f"the request has more than {self.max_files} files, this model's limit"
            )
        name = filename.decode("utf-8", "replace")[:255] or None
        self._current = self.store.writer(name, self.max_bytes)
        self.writers.append(self._current)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._current is not None:
            self._current.write(data[start:end])

    def on_part_end(self) -> None:
        if self._current is not None:
            self.done.append(self._current)
            self._current = None


async def _drain(reader: _Reader, uploads: list[Upload]) -> None:
    """Write what is due, and store each file whose part has ended."""
    for writer in reader.writers:
        if writer.due:
            await writer.flush()
    while reader.done:
        uploads.append(await reader.done.pop(0).finish())


class FileFront(HttpFront):
    """``POST /models/{name}/predict/file``: one or several image files, each a row."""

    __slots__ = ("max_bytes", "max_files", "store")

    def __init__(
        self, request: Request, store: UploadStore, max_files: int, max_bytes: int
    ) -> None:
        super().__init__(request)
        self.store = store
        self.max_files = max_files
        self.max_bytes = max_bytes

    async def form(self) -> Form:
        """The files, each hashed and stored as it streams in (never held whole in memory)."""
        boundary = _boundary(self.request.headers.get("content-type"))
        reader = _Reader(self.store, self.max_files, self.max_bytes)
        parser = MultipartParser(boundary, reader.callbacks())
        uploads: list[Upload] = []
        receive, first = self.request.receive, True
        try:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ClientDisconnected("the client went away while sending its files")
                chunk, more = message.get("body", b""), message.get("more_body", False)
                whole = None if more or not first else one_part(chunk, boundary)
                if whole is not None:  # the usual upload: one small file, in one piece
                    reader.part(*whole)
                    break
                first = False
                parser.write(chunk)
                await _drain(reader, uploads)
                if not more:
                    parser.finalize()
                    break
            await _drain(reader, uploads)
        except MultipartParseError as exc:
            raise InputError(f"the multipart body is malformed: {exc}") from None
        finally:
            # Harmless for a finished file (moved under its hash); a half-received one is deleted.
            for writer in reader.writers:
                writer.discard()
        if reader.writers and len(uploads) != len(reader.writers):
            raise InputError("the multipart body ended in the middle of a file")
        if not uploads:
            raise InputError(
                f"the form has no file: send each image as a file part ({FIELD}=@image.png with curl)"
            )
        return FilesForm(uploads)
