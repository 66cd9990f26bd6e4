"""Per-request result bodies made by several web workers at once, as a real server's are.

In ``serialize="per-request"`` mode a JSON result body is built whole before its first byte
(:func:`._serialize.result_json_rendered`: every stored row loaded and json-dumped). In one
Python process that work is done holding the interpreter, so concurrent requests (a
dashboard's widgets) would wait for each other, which a real server does not make them do:
Redash runs several web worker processes. ``LocalWatch(web_workers=N)`` does the same: a body
is built in this process when no other is being built here, and otherwise in one of ``N - 1``
helper processes, which write it to a temporary file the request then sends from memory
(``mmap``) and removes. Built here, the rows are loaded and dumped a batch at a time, so the
requests a helper serves meanwhile are not held up. With one web worker (the default) every
body is built here, as before.

The helpers are started with ``spawn`` (portable, and safe beside the server's threads): as
``multiprocessing`` requires, a script that starts such a server does so under
``if __name__ == "__main__":``.
"""

from __future__ import annotations

import mmap
import multiprocessing
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from . import _serialize as S
from ._store import StoredResult

CHUNK = 1 << 20


def check_web_workers(value: object) -> int:
    """``value`` when it is a whole number >= 1, else a ValueError saying what is."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            f"web_workers must be a whole number ≥ 1 (1 builds every body in the server's own "
            f"process), not {value!r}."
        )
    return value


def _body_folder() -> str:
    """Memory-backed when the system has one (Linux's /dev/shm), else the temporary folder."""
    shm = "/dev/shm"
    if os.path.isdir(shm) and os.access(shm, os.W_OK):
        return shm
    return tempfile.gettempdir()


def render_to_file(result: StoredResult, trimmed: bool, folder: str) -> str:
    """In a helper process: the body written to a new file in ``folder``; its path."""
    parts = S.result_json_rendered_parts(result, trimmed=trimmed)
    fd, path = tempfile.mkstemp(prefix="local-watch-body-", suffix=".json", dir=folder)
    with os.fdopen(fd, "wb") as out:
        out.writelines(parts)
    return path


def _ready() -> int:
    return os.getpid()


class Renderers:
    """The web workers of one server (see the module doc)."""

    def __init__(self, web_workers: int = 1) -> None:
        self.web_workers = check_web_workers(web_workers)
        self.folder = _body_folder()
        self.built_elsewhere = 0  # bodies built by a helper process (tests read it)
        self._lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._building_here = 0
        self._pool: ProcessPoolExecutor | None = None

    def start(self) -> None:
        """Start the helper processes now, so that no request waits for them to start."""
        with self._start_lock:
            if self.web_workers > 1 and self._pool is None:
                context = multiprocessing.get_context("spawn")
                pool = ProcessPoolExecutor(self.web_workers - 1, mp_context=context)
                futures = [pool.submit(_ready) for _ in range(self.web_workers - 1)]
                for future in futures:
                    future.result()
                self._pool = pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def render_json(self, result: StoredResult, *, trimmed: bool) -> tuple[Iterable[bytes], int]:
        """The body's pieces and length: built here, or by a helper when this process is
        already building one."""
        with self._lock:
            here = self.web_workers == 1 or self._building_here == 0
            if here:
                self._building_here += 1
        if here:
            try:
                parts = S.result_json_rendered_parts(result, trimmed=trimmed)
            finally:
                with self._lock:
                    self._building_here -= 1
            return parts, sum(map(len, parts))
        self.start()
        assert self._pool is not None
        path = self._pool.submit(render_to_file, result, trimmed, self.folder).result()
        with self._lock:
            self.built_elsewhere += 1
        return _sent_and_removed(path)


def _sent_and_removed(path: str) -> tuple[Iterator[bytes], int]:
    """The file's bytes as chunks (read from its mapping) and its size; the file is removed
    at once where the system allows it (the mapping keeps the bytes), else after the last
    chunk."""
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if size else None
    removed = _remove(path)

    def chunks() -> Iterator[bytes]:
        try:
            for start in range(0, size, CHUNK):
                assert mapped is not None
                yield mapped[start : start + CHUNK]
        finally:
            if mapped is not None:
                mapped.close()
            if not removed:
                _remove(path)

    return chunks(), size


def _remove(path: str) -> bool:
    try:
        Path(path).unlink()
    except OSError:  # Windows: not while it is mapped
        return False
    return True
