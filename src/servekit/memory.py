"""Memory the process freed, handed back to the system once a burst of large buffers is over.

After many large buffers at once (64 uploads of 5 MB, each received in pieces and decoded into a
picture of several MB), glibc keeps the pages they freed: small objects allocated meanwhile pin
its heaps, and it has raised its mmap threshold to the largest buffer freed, so that the next
ones come from those heaps too. Measured, a server stayed 130 MB (25%) above where it was before
such a burst; ``malloc_trim(0)``, which returns every free page, brought it back to within 7%,
in about a millisecond. Where the C library has no ``malloc_trim`` (musl, macOS), nothing is done.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(None)  # the symbols the process has loaded: the C library's among them
    except OSError:  # pragma: no cover - every POSIX system loads itself
        return None
    trim = getattr(libc, "malloc_trim", None)
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
