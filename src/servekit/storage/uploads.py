"""Uploaded files, each kept once under the SHA-256 of its content, with a bounded folder.

A file is hashed and written as it arrives (never held whole in memory), then moved under its
hash; the same content uploaded again renews the file instead of storing a copy. Retention
deletes files past an age and the oldest beyond a total size, in the background.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import anyio.to_thread

from servekit.exceptions import FileTooLarge
from servekit.memory import MemoryRelease
from servekit.storage.periodic import Periodic

log = logging.getLogger("servekit.storage")
FLUSH_BYTES = 1 << 20
"""Received bytes are written to disk in pieces of about this size, off the event loop."""
INLINE_BYTES = 64 << 10
"""A file up to this size is held in memory until whole, then written on the event loop.

NOTE: a trip to a worker thread costs about 50 us of CPU, more than writing a small file
(open, write, close, rename: page cache only, never a wait for the disk); past this size the
write goes to a thread as before. The bytes stay on the ``Upload`` (``content``), so that the
codec reads them without opening the file again.
"""
RELEASE_AFTER_BYTES = 64 << 20
"""Once this much was received, memory freed is handed back when uploads pause (``memory``)."""
RELEASE_CHECK_S = 1.0
"""How often the store looks whether uploads paused: freed memory is back within two of these."""
TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


@dataclass(frozen=True, slots=True)
class Upload:
    """One uploaded file, stored by its content's SHA-256."""

    sha256: str
    name: str | None
    """The client's file name, if it gave one (shown back, never used as a path)."""
    path: Path
    size: int
    content: bytes | None = None
    """The file's bytes, where it is small enough to be held in memory (``INLINE_BYTES``)."""


class UploadWriter:
    """One file being received: counted, hashed and written as its chunks come.

    Nothing touches the disk until a flush is due: a small file is written whole at ``finish``.
    """

    def __init__(self, store: UploadStore, name: str | None, max_bytes: int) -> None:
        self.store = store
        self.name = name
        self.max_bytes = max_bytes
        self.size = 0
        self._hash = hashlib.sha256()
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._temp: str | None = None  # created by the first flush, on a worker thread
        self._file: IO[bytes] | None = None
        self._kept = False  # moved under its hash: no temp file left to delete

    def write(self, chunk: bytes) -> None:
        """Take a chunk (FileTooLarge once the file passes ``max_bytes``); ``flush`` writes it."""
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise FileTooLarge(
                f"{self.name or 'the file'} is larger than this model's limit of "
                f"{self.max_bytes:,} bytes"
            )
        self._hash.update(chunk)
        self.store.memory.used(len(chunk))
        self._pending.append(chunk)
        self._pending_bytes += len(chunk)

    @property
    def due(self) -> bool:
        """Whether enough is received to be worth a write off the loop."""
        return self._pending_bytes >= FLUSH_BYTES

    async def flush(self) -> None:
        """Write what was received so far, on a worker thread."""
        if self._pending:
            # The chunks as they came, never joined: a join copied every megabyte once more,
            # into one more buffer of a megabyte for each upload under way.
            chunks, self._pending, self._pending_bytes = self._pending, [], 0
            await anyio.to_thread.run_sync(self._write, chunks)

    def _write(self, chunks: list[bytes]) -> None:
        if self._file is None:
            self._temp = self.store.temp_path()
            self._file = os.fdopen(os.open(self._temp, TEMP_FLAGS, 0o600), "wb")
        self._file.writelines(chunks)

    async def finish(self) -> Upload:
        """The whole file: moved under its hash (or dropped, if that content is stored already)."""
        chunks, self._pending, self._pending_bytes = self._pending, [], 0
        digest = self._hash.hexdigest()
        if self._file is None and self.size <= INLINE_BYTES:
            content = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            path = self.store.write(content, digest)
            self._kept = True
            return Upload(sha256=digest, name=self.name, path=path, size=self.size, content=content)
        # NOTE: one trip to a worker thread for the last write, the close and the move: each trip
        # costs about as much CPU as a small image's whole write, and most images are one write.
        path = await anyio.to_thread.run_sync(self._complete, chunks, digest)
        return Upload(sha256=digest, name=self.name, path=path, size=self.size)

    def _complete(self, chunks: list[bytes], digest: str) -> Path:
        self._write(chunks)
        assert self._file is not None
        assert self._temp is not None
        self._file.close()
        path = self.store.keep(self._temp, digest)
        self._kept = True
        return path

    def discard(self) -> None:
        """Forget a file that will not be used (an error, a client gone); nothing for a kept one."""
        if self._file is not None:
            self._file.close()
        if not self._kept and self._temp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._temp)


class UploadStore:
    """The uploads folder: content-addressed files, bounded by age and total size."""

    def __init__(
        self,
        root: Path,
        *,
        max_total_bytes: int,
        max_age_s: float | None,
        interval_s: float,
        release_after_bytes: int = RELEASE_AFTER_BYTES,
    ) -> None:
        self.root = root
        self.incoming = root / "incoming"
        self.max_total_bytes = max_total_bytes
        self.max_age_s = max_age_s
        self.interval_s = interval_s
        self._periodic = Periodic(self._prune, interval_s, name="upload retention", log=log)
        self.memory = MemoryRelease(release_after_bytes)
        self._releases = Periodic(
            self._release, RELEASE_CHECK_S, name="upload memory release", log=log
        )
        # Temp names: a random prefix per store and a count, not a system call's randomness each.
        self._incoming = os.fspath(self.incoming)
        self._root = os.fspath(root)
        self._temp_prefix = secrets.token_hex(8)
        self._temp_count = itertools.count()
        self._folders: set[str] = set()
        """Hash folders known to exist (made or seen): no mkdir for each file."""

    def prepare(self) -> None:
        """Create the folder (private to this user) and clear what an earlier run left half-received."""
        self.incoming.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.root, 0o700)
        for stale in self.incoming.iterdir():
            stale.unlink(missing_ok=True)

    def writer(self, name: str | None, max_bytes: int) -> UploadWriter:
        """A new file to receive."""
        return UploadWriter(self, name, max_bytes)

    def path_of(self, sha256: str) -> Path:
        """Where the file of this hash is kept."""
        return self.root / sha256[:2] / sha256

    def temp_path(self) -> str:
        """A new name in the incoming folder, for a file being received.

        NOTE: a string, as are the paths of ``write``: pathlib's joins cost more than the
        system calls of a small file.
        """
        return f"{self._incoming}/{self._temp_prefix}-{next(self._temp_count)}"

    def keep(self, temp: str | Path, sha256: str) -> Path:
        """Move a received file under its hash; if that content is kept already, renew it instead.

        NOTE: renewing is the same move: the file under a hash has that content, so replacing it
        with its copy changes nothing but its time (what retention reads), and costs one system
        call where a look first, then a delete and a touch, cost three.
        """
        folder = f"{self._root}/{sha256[:2]}"
        path = f"{folder}/{sha256}"
        if folder not in self._folders:
            os.makedirs(folder, mode=0o700, exist_ok=True)
            self._folders.add(folder)
        try:
            os.replace(temp, path)
        except FileNotFoundError:  # the folder was deleted behind the store's back
            os.makedirs(folder, mode=0o700, exist_ok=True)
            os.replace(temp, path)
        return Path(path)

    def write(self, data: bytes, sha256: str) -> Path:
        """Keep bytes already in memory whose hash is known: a temp file moved under it; blocking.

        NOTE: as every file of the store, never under its hash until it is whole (a crash leaves a
        temp file, cleared at the next start, never a truncated file that later uploads of the
        same content would take as kept).
        """
        temp = self.temp_path()
        fd = os.open(temp, TEMP_FLAGS, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        return self.keep(temp, sha256)

    def store(self, data: bytes, name: str | None) -> Upload:
        """Keep bytes already in memory (a base64 image of a JSON body); blocking."""
        digest = hashlib.sha256(data).hexdigest()
        self.memory.used(len(data))
        path = self.write(data, digest)
        content = data if len(data) <= INLINE_BYTES else None
        return Upload(sha256=digest, name=name, path=path, size=len(data), content=content)

    def forget(self, upload: Upload) -> None:
        """Delete a stored file that turned out unusable (not an image): nothing is kept half."""
        upload.path.unlink(missing_ok=True)

    def prune(self, now: float | None = None) -> int:
        """Delete files past the age, then the oldest until the folder is under its size; blocking."""
        now = time.time() if now is None else now
        files = []
        for folder in self.root.iterdir():
            if folder == self.incoming or not folder.is_dir():
                continue
            for path in folder.iterdir():
                with contextlib.suppress(FileNotFoundError):
                    stat = path.stat()
                    files.append((stat.st_mtime, stat.st_size, path))
        files.sort()
        total = sum(size for _, size, _ in files)
        removed = 0
        for mtime, size, path in files:
            old = self.max_age_s is not None and now - mtime > self.max_age_s
            if not old and total <= self.max_total_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size
            removed += 1
        return removed

    async def start(self) -> None:
        """Create the folder, then prune now and every ``interval_s``; release memory after bursts."""
        await anyio.to_thread.run_sync(self.prepare)
        self._periodic.start()
        self._releases.start()

    async def stop(self) -> None:
        """Stop pruning and releasing."""
        await self._periodic.stop()
        await self._releases.stop()

    async def _release(self) -> None:
        if self.memory.due():
            await anyio.to_thread.run_sync(self.memory.release)

    async def _prune(self) -> None:
        removed = await anyio.to_thread.run_sync(self.prune)
        if removed:
            log.info("upload retention deleted %d file(s)", removed)
