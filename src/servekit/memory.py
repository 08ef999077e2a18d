"""Memory the process freed, handed back to the system once a burst of large buffers is over.

After many large buffers at once (64 uploads of 5 MB, each received in pieces and decoded into a
picture of several MB), glibc keeps the pages they freed: small objects allocated meanwhile pin
its heaps, and it has raised its mmap threshold to the largest buffer freed, so that the next
ones come from those heaps too. Measured, a server stayed 35-40% above its resident memory
before such a burst; ``malloc_trim(0)``, which returns every free page, took about a millisecond
and brought it back to within 5-12% (within 1% with ``limit_heaps``). Where the C library has
neither (musl, macOS), nothing is done.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable
from typing import Any

M_ARENA_MAX = -8
"""glibc's ``mallopt`` parameter: the most heaps (arenas) its threads get."""


def _libc(name: str) -> Any:
    try:
        libc = ctypes.CDLL(None)  # the symbols the process has loaded: the C library's among them
    except OSError:  # pragma: no cover - every POSIX system loads itself
        return None
    return getattr(libc, name, None)


def limit_heaps() -> bool:
    """At most one C library heap per core this process may use (glibc); False where it cannot.

    glibc gives threads heaps of their own, up to eight per core, so that they seldom wait for
    one another's lock. A server runs dozens of threads (anyio's pool of up to 40 writes uploads,
    others decode and call models) but no more at once than it has cores, and a buffer freed in
    one heap serves no thread of another. Measured on one core with 64 uploads of 5 MB at once:
    resident memory rose 75-95 MB instead of about 205, and with ``MemoryRelease`` came back to
    within 1% of where it was, instead of 11%.

    NOTE: heaps made before stay (the limit only stops new ones): call it before threads start.
    """
    mallopt = _libc("mallopt")
    if mallopt is None:  # pragma: no cover - glibc has it
        return False
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return bool(mallopt(ctypes.c_int(M_ARENA_MAX), ctypes.c_int(cores or 1)))


def _malloc_trim() -> Callable[[int], int] | None:
    trim = _libc("malloc_trim")
    if trim is None:  # pragma: no cover - glibc has it
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    trim_c: Callable[[int], int] = trim
    return trim_c


class MemoryRelease:
    """Counts the bytes of large buffers as they come; once they stop, returns what was freed."""

    def __init__(self, after_bytes: int) -> None:
        self.after_bytes = after_bytes
        self._since = 0
        self._coming = False
        self._trim = _malloc_trim()

    def used(self, size: int) -> None:
        """Count ``size`` bytes of buffers (an upload's chunks, say)."""
        self._since += size
        self._coming = True

    def due(self) -> bool:
        """At least ``after_bytes`` came since the last release, and none since the last look.

        Called every so often: while buffers keep coming, their memory is in use (and reused),
        and returning it would only have the next ones map it again.
        """
        if self._coming:
            self._coming = False
            return False
        return self._since >= self.after_bytes

    def release(self) -> bool:
        """Hand the free memory back (blocking, about a millisecond); False where it cannot."""
        self._since = 0
        if self._trim is None:
            return False
        self._trim(0)
        return True
