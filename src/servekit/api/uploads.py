"""The file-upload front: a multipart body streamed into the upload store, a row per file."""

from __future__ import annotations

from email.message import Message
from typing import Any

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from servekit.api.fronts import HttpFront
from servekit.exceptions import ClientDisconnected, InputError, UnsupportedMediaType
from servekit.inputs.base import FilesForm, Form
from servekit.storage.uploads import Upload, UploadStore, UploadWriter

FIELD = "file"
"""The form field documented for uploads (any file part is taken, whatever its name)."""


def _boundary(content_type: str | None) -> bytes:
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
        try:
            async for chunk in self.request.stream():
                parser.write(chunk)
                await _drain(reader, uploads)
            parser.finalize()
            await _drain(reader, uploads)
        except ClientDisconnect:
            raise ClientDisconnected("the client went away while sending its files") from None
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
