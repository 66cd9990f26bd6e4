"""Progress events of an execution, and the listeners that show them.

Execution emits a :class:`ProgressEvent` at every state change (and on each poll while
waiting). UIs are listeners: a text line on stderr, an ipywidget, a log record. A listener is
any callable taking one event; a listener that raises is logged and ignored, never allowed to
break the read.

This module also chooses the default listener (``progress=None``): the notebook widget is the
UI's, so it is imported lazily here, and only inside a kernel that can draw it; a script never
loads :mod:`watch_pandas.widgets`. Both the text line and the widget word an event with
:func:`progress_text`.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import sys
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, Literal, TextIO

__all__ = [
    "ProgressEvent",
    "ProgressListener",
    "Progress",
    "TextProgress",
    "Ticker",
    "TICK",
    "TICKER_THREAD",
    "display_width",
    "terminal_columns",
    "emit",
    "progress_text",
    "progress_listeners",
    "default_listener",
]

log = logging.getLogger("watch_pandas")

State = Literal["queued", "running", "downloading", "done", "failed", "cancelled"]
Phase = Literal["preparing", "receiving"]


@dataclass(frozen=True)
class ProgressEvent:
    """One step of an execution.

    ``state`` is queued → running → downloading → done (or failed / cancelled); ``elapsed`` is
    seconds since the read started; ``job_id`` is set once the server made a job; ``message``
    is a human sentence (the server's error for ``failed``); ``source`` says where the frame
    came from when done ("server cache", "fresh run", "local cache").

    A download has two phases (``phase``): ``"preparing"`` while the server serialises the
    whole result before its first byte, then ``"receiving"`` with ``bytes_received`` of
    ``bytes_total`` (the ``Content-Length``, ``None`` when not sent), ``rate`` in bytes per
    second, ``eta`` in seconds (``None`` without a total) and ``rows`` decoded so far.
    A sweep's events count its parts: ``parts_done`` of ``parts_total``, ``rows`` so far and
    ``eta``, an estimate of the seconds left (``None`` when unknown).
    """

    state: State
    elapsed: float
    query_id: int | None = None
    job_id: str | None = None
    message: str = ""
    source: str | None = None
    phase: Phase | None = None
    bytes_received: int | None = None
    bytes_total: int | None = None
    rate: float | None = None
    eta: float | None = None
    rows: int | None = None
    parts_done: int | None = None
    parts_total: int | None = None

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed", "cancelled")


ProgressListener = Callable[[ProgressEvent], None]

# What a read's ``progress=`` takes: None/True (the default listener), False, or listeners.
Progress = bool | ProgressListener | Iterable[ProgressListener] | None


def emit(
    listeners: list[ProgressListener] | tuple[ProgressListener, ...], event: ProgressEvent
) -> None:
    """Send ``event`` to every listener; a failing listener is logged, not propagated."""
    log.debug(
        "progress %s query=%s job=%s elapsed=%.2fs %s",
        event.state,
        event.query_id,
        event.job_id,
        event.elapsed,
        event.message,
    )
    for listener in listeners:
        try:
            listener(event)
        except Exception:  # a broken UI must not break the read
            log.exception("progress listener %r failed", listener)


class TextProgress:
    """A single updating line on a terminal stream (stderr by default).

    Only draws on a TTY unless ``force=True``; the line is rewritten with ``\\r`` and ends
    with a newline when the execution finishes. Each line is fitted to the terminal's width
    (``width``, else measured on every update: ``COLUMNS``, the stream's terminal, then
    :func:`shutil.get_terminal_size`), one column short of it: a line that wrapped could not be
    rewritten by ``\\r``. Ticks (the elapsed time moving on, :class:`Ticker`) are drawn at most
    every ``TICK`` seconds however many executions send them.
    """

    def __init__(
        self, stream: TextIO | None = None, *, force: bool = False, width: int | None = None
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = force or bool(getattr(self.stream, "isatty", lambda: False)())
        self.width = width
        self._drawn = 0  # columns of the line on screen, to blank what a shorter one leaves
        self._drawn_at = -math.inf
        self._lock = threading.Lock()  # executions and tickers draw from several threads

    def __call__(self, event: ProgressEvent) -> None:
        if self.enabled:
            self._draw(event)

    def on_tick(self, event: ProgressEvent) -> None:
        """Redraw ``event`` (the elapsed time moved on) unless a line went out just now."""
        if self.enabled and time.monotonic() - self._drawn_at >= TICK * 0.8:
            self._draw(event)

    def _draw(self, event: ProgressEvent) -> None:
        with self._lock:
            limit = max(1, (self.width or terminal_columns(self.stream)) - 1)
            line = progress_text(event, width=limit, prefix="watch: ")
            used = display_width(line)
            pad = " " * max(0, min(self._drawn, limit) - used)
            self._drawn = 0 if event.finished else used
            self._drawn_at = time.monotonic()
            self.stream.write("\r" + line + pad + ("\n" if event.finished else ""))
            self.stream.flush()


def terminal_columns(stream: TextIO) -> int:
    """The width of the terminal ``stream`` draws on: ``COLUMNS`` when set (as
    :func:`shutil.get_terminal_size` reads it), the stream's own terminal, else stdout's or 80."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(stream.fileno()).columns
        except (AttributeError, OSError, ValueError):  # no descriptor, not a terminal
            columns = 0
    if columns <= 0:
        columns = shutil.get_terminal_size().columns
    return columns if columns > 0 else 80


def display_width(text: str) -> int:
    """Terminal columns ``text`` takes: wide (East Asian) characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` columns, ending in "…" when it was cut."""
    if display_width(text) <= width:
        return text
    out, used = [], 0
    for ch in text:
        w = display_width(ch)
        if used + w > width - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


SHORT_JOB = 8  # a shortened job id: its first characters, then "…"

# The parts of a line, least useful first: the first to go when it does not fit a width.
# (state, elapsed time and the message always stay: a long message is cut instead.)
_DROP_ORDER = ("job", "rate", "query", "source", "rows", "eta", "bytes", "parts")


def progress_text(
    event: ProgressEvent,
    *,
    job_chars: int | None = None,
    width: int | None = None,
    prefix: str = "",
) -> str:
    """One line for an event: state, elapsed time, job id, then the source or message and
    the amounts (bytes, rate, estimate, rows).

    ``job_chars`` shortens a longer job id to its first characters and "…". ``width`` fits
    the line (``prefix`` included) to that many columns: the job id is shortened, then the
    least useful parts are left out (job id, rate, query, source, rows, estimate, bytes,
    parts), and what still does not fit is cut with "…".
    """
    parts: list[tuple[str, str]] = [("state", event.state), ("elapsed", f"{event.elapsed:.1f} s")]
    if event.query_id is not None:
        parts.append(("query", f"query {event.query_id}"))
    if event.job_id:
        parts.append(("job", f"job {_short_job(event.job_id, job_chars)}"))
    if event.parts_total is not None:
        parts.append(("parts", f"{event.parts_done or 0}/{event.parts_total} parts"))
    if event.source:
        parts.append(("source", _one_line(event.source)))
    if event.message:
        parts.append(("message", _one_line(event.message)))
    parts.extend(_amount_parts(event))

    def joined() -> str:
        return prefix + " · ".join(text for _, text in parts)

    if width is None or display_width(joined()) <= width:
        return joined()
    if event.job_id and (job_chars is None or job_chars > SHORT_JOB):
        at = [name for name, _ in parts].index("job")
        parts[at] = ("job", f"job {_short_job(event.job_id, SHORT_JOB)}")
    for name in _DROP_ORDER:
        if display_width(joined()) <= width:
            break
        parts = [part for part in parts if part[0] != name]
    return _clip(joined(), width)


def _short_job(job_id: str, chars: int | None) -> str:
    if chars is not None and len(job_id) > chars + 1:
        return job_id[:chars] + "…"
    return job_id


def _one_line(text: str) -> str:
    """A server's message on one line (newlines and tabs would break a ``\\r`` rewrite)."""
    return " ".join(text.split())


def _amount_parts(event: ProgressEvent) -> list[tuple[str, str]]:
    """Bytes (of the total) and rate of a ``receiving`` event; the estimate and rows of a
    download or a sweep. A finished download shows its size; a rate only once measured."""
    parts: list[tuple[str, str]] = []
    total = event.bytes_total
    if event.bytes_received is not None and total is not None and event.bytes_received < total:
        shown, unit = _size(total)
        scale = _UNITS[unit]
        parts.append(("bytes", f"{event.bytes_received / scale:.1f} of {shown} {unit}"))
    elif event.bytes_received is not None:
        value, unit = _size(event.bytes_received)
        parts.append(("bytes", f"{value} {unit}"))
    if event.rate:  # None (not measurable yet) or 0 (nothing measured): no rate
        value, unit = _size(event.rate)
        parts.append(("rate", f"{value} {unit}/s"))
    if event.eta is not None and event.eta > 0:
        parts.append(("eta", f"~{math.ceil(event.eta)} s left"))
    if event.rows is not None:
        parts.append(("rows", f"{event.rows:,} rows"))
    return parts


_UNITS = {"B": 1, "kB": 1000, "MB": 1000**2, "GB": 1000**3}


def _size(amount: float) -> tuple[str, str]:
    """``amount`` bytes in the largest decimal unit it reaches: ("3.5", "MB"), ("17", "B")."""
    unit = "B"
    for name, scale in _UNITS.items():
        if amount >= scale:
            unit = name
    if unit == "B":
        return f"{amount:.0f}", unit
    return f"{amount / _UNITS[unit]:.1f}", unit


# -- the ticker ------------------------------------------------------------------------------
TICK = 0.5  # seconds between ticks: the elapsed time moves twice a second
TICKER_THREAD = "watch-progress"


class Ticker:
    """A progress listener that passes events on and keeps the elapsed time moving.

    While the last event is not final, every ``interval`` seconds without a new one it is
    repeated, its ``elapsed`` (and ``eta``) moved on, to the listeners that draw (those with an
    ``on_tick(event)`` method: :class:`TextProgress`, the notebook widget). Callbacks see only
    the real events. The ticking thread runs only inside ``with ticker:`` and only when a
    listener draws; leaving the block stops and joins it, whatever ended the block.
    ``thread=False``: no thread, ticks only through :meth:`tick` (for tests).
    """

    def __init__(
        self,
        listeners: Iterable[ProgressListener],
        *,
        interval: float = TICK,
        clock: Callable[[], float] = time.monotonic,
        thread: bool = True,
    ) -> None:
        self.listeners = tuple(listeners)
        self._displays = [lsn for lsn in self.listeners if callable(getattr(lsn, "on_tick", None))]
        self._interval = interval
        self._clock = clock
        self._use_thread = thread and bool(self._displays)
        self._lock = threading.RLock()  # events and ticks reach the listeners one at a time
        self._last: ProgressEvent | None = None
        self._at = 0.0
        self._active = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __call__(self, event: ProgressEvent) -> None:
        with self._lock:
            self._last = None if event.finished else event
            self._at = self._clock()
            emit(self.listeners, event)
            if self._active and self._use_thread and self._thread is None and not event.finished:
                self._thread = threading.Thread(target=self._run, name=TICKER_THREAD, daemon=True)
                self._thread.start()

    def tick(self) -> None:
        """Repeat the last event with the time moved on, if none came for a while."""
        with self._lock:
            last = self._last
            if last is None or self._stop.is_set():
                return
            moved = self._clock() - self._at
            if moved < self._interval * 0.8:
                return
            eta = None if last.eta is None else max(0.0, last.eta - moved)
            event = replace(last, elapsed=last.elapsed + moved, eta=eta)
            for display in self._displays:
                try:
                    display.on_tick(event)  # type: ignore[attr-defined]  # checked in __init__
                except BaseException:  # a display must not end the read, nor this thread
                    log.exception("progress display %r failed", display)

    def __enter__(self) -> Ticker:
        with self._lock:
            self._active = True
            self._stop.clear()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop ticking and wait for the thread to end."""
        with self._lock:
            self._active = False
            self._stop.set()
            thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.tick()


# -- choosing the listeners ------------------------------------------------------------------
def progress_listeners(progress: Progress) -> list[ProgressListener]:
    """The listeners ``progress=`` asks for (``None``/``True``: :func:`default_listener`)."""
    if progress is False:
        return []
    if progress is None or progress is True:
        return [default_listener(force=progress is True)]
    if callable(progress):
        return [progress]
    return list(progress)


def default_listener(*, force: bool = False) -> ProgressListener:
    """A widget in a notebook with a widget front end, else a text line on stderr.

    In a kernel without ipywidgets the text line is drawn in the cell's stderr; in a terminal
    only when stderr is a TTY, unless ``force``.
    """
    in_kernel = kernel_shell() is not None
    if in_kernel:
        try:
            # the UI builds on this module, so it is imported here, never at the top
            from ._progress_widget import ProgressDisplay

            return ProgressDisplay(display_on_first_event=True)
        except ImportError:  # no ipywidgets: the text line, in the cell's stderr
            pass
    return TextProgress(force=force or in_kernel)


def kernel_shell() -> Any:
    """The running IPython kernel's shell, or None (plain Python, terminal IPython).

    IPython is imported only when a kernel is already loaded, so scripts never pay for it.
    """
    if "ipykernel" not in sys.modules:
        return None
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        return None
    return shell
