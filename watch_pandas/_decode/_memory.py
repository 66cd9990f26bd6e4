"""Handing the memory a read has freed back to the operating system while it still runs.

A result's batch parts are many buffers of some 10-200 kB each, from every column in turn.
When a column is finished its parts are freed, but the C allocator (glibc's malloc) keeps
such blocks for reuse: scattered among the parts of the columns still to come, they cannot
hold the next column's large arrays, so each new column asked the system for more, and a
read's peak memory was the parts plus the whole frame (about 2.15x the frame for 1M untyped
rows). glibc's ``malloc_trim`` returns the free pages inside those blocks at once. It walks
the whole heap (a few milliseconds), so a read calls it each time its finished columns have
freed :data:`TRIM_BYTES` more (:class:`FreedMemory`), not after every column of a wide
result. Elsewhere (macOS, Windows, musl) there is nothing to call and the read works as
before. See docs/performance.md#memory.

A frame's large arrays are made by :func:`plain_empty` (and Arrow's work for the frame by
:func:`plain_pool`) rather than by numpy or Arrow's default pool, both of which ask for
transparent huge pages. A huge page needs 2 MB of contiguous free memory, which the pages a
read has just freed seldom make, so it is memory the machine has not touched lately:
compacted first on many machines, backed by the host first on virtual ones, then zeroed at
once. How long that takes swings widely from one run to the next; ordinary pages reuse what
the read freed. See docs/performance.md#plain-pages-for-the-frame.
"""

from __future__ import annotations

import ctypes
import sys
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

TRIM_BYTES = 8 << 20  # freed by finished columns before the free pages are handed back
_trim: Callable[[int], int] | None = None
_looked_up = False
_lock = threading.Lock()


def _find_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)  # the C library this process already runs on
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release_freed_memory() -> bool:
    """Return the free pages the C allocator holds to the system; whether it could."""
    global _trim, _looked_up
    if not _looked_up:
        with _lock:
            if not _looked_up:
                _trim = _find_trim()
                _looked_up = True
    if _trim is None:
        return False
    _trim(0)
    return True


class FreedMemory:
    """One read's count of the bytes its finished columns have freed (the columns finish on
    several threads); the free pages are handed back each time :data:`TRIM_BYTES` more
    have been freed."""

    def __init__(self) -> None:
        self._since_trim = 0
        self._lock = threading.Lock()

    def add(self, nbytes: int) -> None:
        with self._lock:
            self._since_trim += nbytes
            if self._since_trim < TRIM_BYTES:
                return
            self._since_trim = 0
        release_freed_memory()


def plain_empty(length: int, dtype: Any) -> np.ndarray:
    """A writable, uninitialised 1-D array of ``length`` items of ``dtype`` (not ``object``)
    in memory from the C allocator, in ordinary pages; the array keeps its memory alive."""
    dtype = np.dtype(dtype)
    buffer = pa.allocate_buffer(length * dtype.itemsize, memory_pool=plain_pool())
    return np.frombuffer(buffer, dtype=dtype, count=length)


def plain_pool() -> pa.MemoryPool:
    """Arrow's pool for the C allocator (its default pool asks for huge pages too)."""
    return pa.system_memory_pool()
