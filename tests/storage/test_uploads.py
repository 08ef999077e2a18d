"""The uploads folder: stored once by hash, written as it streams, bounded by age and size."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from pathlib import Path

import pytest

from servekit.exceptions import FileTooLarge
from servekit.storage.uploads import FLUSH_BYTES, UploadStore


def store_in(tmp_path: Path, **changes: float | int | None) -> UploadStore:
    options: dict = {"max_total_bytes": 10**9, "max_age_s": None, "interval_s": 60.0, **changes}
    store = UploadStore(tmp_path / "uploads", **options)
    store.prepare()
    return store


def test_a_streamed_file_is_kept_under_its_hash_once(tmp_path: Path) -> None:
    store = store_in(tmp_path)
    data = os.urandom(3 * FLUSH_BYTES + 17)

    async def receive() -> None:
        for _ in range(2):
            writer = store.writer("a.bin", max_bytes=len(data))
            for i in range(0, len(data), 65_536):
                writer.write(data[i : i + 65_536])
                if writer.due:
                    await writer.flush()
            upload = await writer.finish()
            assert upload.sha256 == hashlib.sha256(data).hexdigest()
            assert upload.path.read_bytes() == data
            assert upload.size == len(data)

    asyncio.run(receive())
    assert [p.name for p in store.root.glob("??/*")] == [hashlib.sha256(data).hexdigest()]
    assert list(store.incoming.iterdir()) == []


def test_a_file_never_flushed_is_written_whole_at_finish_and_kept_after_a_discard(
    tmp_path: Path,
) -> None:
    store = store_in(tmp_path)
    data = os.urandom(1000)

    async def receive() -> Path:
        writer = store.writer("small.bin", max_bytes=len(data))
        writer.write(data[:600])
        writer.write(data[600:])
        assert not writer.due
        upload = await writer.finish()
        writer.discard()  # as the front does for every writer once the body is read
        return upload.path

    path = asyncio.run(receive())
    assert path.read_bytes() == data
    assert list(store.incoming.iterdir()) == []


def test_a_file_past_its_limit_is_refused_as_it_arrives_and_nothing_is_left(tmp_path: Path) -> None:
    store = store_in(tmp_path)
    writer = store.writer("big.bin", max_bytes=100)
    writer.write(b"x" * 100)
    with pytest.raises(FileTooLarge, match="100 bytes"):
        writer.write(b"x")
    writer.discard()
    assert list(store.incoming.iterdir()) == []


def test_the_bytes_received_make_a_memory_release_due_once_uploads_pause(tmp_path: Path) -> None:
    store = store_in(tmp_path, release_after_bytes=1_500)
    writer = store.writer("a.bin", max_bytes=1_000)
    writer.write(b"x" * 1_000)
    writer.discard()  # refused files count too: their chunks were in memory all the same
    store.store(b"y" * 1_000, "b.bin")  # and a base64 image's bytes
    assert not store.memory.due()  # they came since the last look
    assert store.memory.due()


def test_retention_deletes_old_files_then_the_oldest_beyond_the_size(tmp_path: Path) -> None:
    store = store_in(tmp_path, max_total_bytes=2_500, max_age_s=3_600)
    now = time.time()
    ages = {"old": 7_200, "a": 300, "b": 200, "c": 100}
    for name, age in ages.items():
        upload = store.store(name.encode() * 1_000, name)
        os.utime(upload.path, (now - age, now - age))
    assert store.prune(now) == 2  # "old" by age; then "a", the oldest, for size (4 kB > 2.5 kB)
    left = sorted(p.read_bytes()[:1] for p in store.root.glob("??/*"))
    assert left == [b"b", b"c"]


def test_a_half_received_file_of_an_earlier_run_is_cleared_at_start(tmp_path: Path) -> None:
    store = store_in(tmp_path)
    (store.incoming / "leftover").write_bytes(b"half")
    store.prepare()
    assert list(store.incoming.iterdir()) == []
    assert (store.root.stat().st_mode & 0o077) == 0
