"""Download progress of one result body: its two phases, throttled.

The server serialises the whole result before it sends the first byte
(docs/protocol.md#downloads), so a large download is first a silent wait, then a transfer.
:class:`DownloadMeter` reports both as ``downloading`` events (fields of
:class:`~watch_pandas._progress.ProgressEvent`): ``phase="preparing"`` with the elapsed time,
repeated by a heartbeat thread while the request waits, then ``phase="receiving"`` with the
bytes of the body received, its ``Content-Length``, the rate, an estimate and the rows decoded.
Receiving events are throttled to one per ``min_interval`` (the first and the last always go
out), so a listener never sees more than a few a second however small the chunks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["DownloadMeter", "PREPARING"]

PREPARING = "server preparing result"
MIN_RATE_SPAN = 0.2  # seconds of transfer before a rate is told


class DownloadMeter:
    """Reports one download through ``report(**fields)`` (say ``Execution.report`` with the
    state bound). ``heartbeat``: seconds between ``preparing`` events while waiting for the
    first byte (``None``: only the first one)."""

    def __init__(
        self,
        report: Callable[..., None],
        *,
        clock: Callable[[], float] = time.monotonic,
        min_interval: float = 0.25,
        heartbeat: float | None = 0.5,
    ) -> None:
        self._report = report
        self._clock = clock
        self._min_interval = min_interval
        self._heartbeat = heartbeat
        self._lock = threading.Lock()  # the heartbeat thread and the reader never emit at once
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last: float | None = None
        self._first_byte: float | None = None
        self._first_size = 0  # the rate counts what arrived after the first chunk's moment
        self._received = 0
        self._total: int | None = None
        self._rows: int | None = None

    @property
    def heartbeat_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @contextmanager
    def preparing(self) -> Iterator[None]:
        """The wait for the first byte: one ``preparing`` event now, then one per heartbeat
        until :meth:`metered` sees a byte or the block ends."""
        self._emit(phase="preparing", message=PREPARING)
        if self._heartbeat is not None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._beat, args=(self._heartbeat,), name="watch-download", daemon=True
            )
            self._thread.start()
        try:
            yield
        finally:
            self._stop_heartbeat()

    def metered(self, body: Iterable[bytes]) -> _Metered:
        """``body``'s chunks, counted as they pass (``body.content_length`` is the total)."""
        return _Metered(self, body)

    def rows(self, n_rows: int) -> None:
        """Rows decoded so far (throttled like the bytes)."""
        self._rows = n_rows
        if self._first_byte is not None:
            self._receiving(force=False)

    def finish(self, rows: int | None = None) -> None:
        """The body is read and decoded: the final counts, never throttled away."""
        if rows is not None:
            self._rows = rows
        if self._first_byte is not None:
            self._receiving(force=True)

    # -- internals ---------------------------------------------------------------------------
    def _chunks(self, body: Iterable[bytes]) -> Iterator[bytes]:
        self._received = 0  # a download started again after a break counts from zero
        self._total = getattr(body, "content_length", None)
        self._first_byte = None
        for chunk in body:
            if self._first_byte is None:
                self._stop_heartbeat()
                self._first_byte = self._clock()
                self._first_size = len(chunk)
                self._received += len(chunk)
                self._receiving(force=True)  # the phase changed: always told
            else:
                self._received += len(chunk)
                self._receiving(force=False)
            yield chunk
        self._receiving(force=True)

    def _receiving(self, *, force: bool) -> None:
        now = self._clock()
        if not force and self._last is not None and now - self._last < self._min_interval:
            return
        assert self._first_byte is not None
        seconds = now - self._first_byte
        counted = self._received - self._first_size
        # A rate only once measurable: bytes after the first chunk, over a span long enough
        # to mean something (a body that came in one chunk has none, never "0 B/s").
        rate = counted / seconds if counted > 0 and seconds >= MIN_RATE_SPAN else None
        eta = None
        if rate and self._total is not None and self._received < self._total:
            eta = (self._total - self._received) / rate
        self._emit(
            phase="receiving",
            bytes_received=self._received,
            bytes_total=self._total,
            rate=rate,
            eta=eta,
            rows=self._rows,
        )

    def _emit(self, **fields: Any) -> None:
        with self._lock:
            self._last = self._clock()
            self._report(**fields)

    def _beat(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self._emit(phase="preparing", message=PREPARING)

    def _stop_heartbeat(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()


class _Metered:
    """A body's chunks passing through the meter; closes the body like the body itself."""

    def __init__(self, meter: DownloadMeter, body: Iterable[bytes]) -> None:
        self._meter = meter
        self._body = body

    def __iter__(self) -> Iterator[bytes]:
        return self._meter._chunks(self._body)

    def close(self) -> None:
        close = getattr(self._body, "close", None)
        if close is not None:
            close()
