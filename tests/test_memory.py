"""Freed memory handed back once a burst of large buffers is over."""

from __future__ import annotations

import platform

import pytest

from servekit.memory import MemoryRelease, limit_heaps


def test_a_release_is_due_once_enough_came_and_then_none_for_a_look() -> None:
    memory = MemoryRelease(after_bytes=100)
    memory.used(60)
    assert not memory.due()  # still coming
    assert not memory.due()  # quiet, but not enough yet
    memory.used(50)
    assert not memory.due()
    assert memory.due()
    memory.release()
    assert not memory.due()  # counted again from nothing


GLIBC = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's own functions")


@GLIBC
def test_glibc_hands_freed_memory_back() -> None:
    assert MemoryRelease(after_bytes=1).release()


@GLIBC
def test_glibc_takes_the_limit_on_heaps() -> None:
    assert limit_heaps()
