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
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, TextIO

__all__ = [
    "ProgressEvent",
    "ProgressListener",
    "Progress",
    "TextProgress",
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
    with a newline when the execution finishes.
    """

    def __init__(self, stream: TextIO | None = None, *, force: bool = False) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = force or bool(getattr(self.stream, "isatty", lambda: False)())
        self._width = 0

    def __call__(self, event: ProgressEvent) -> None:
        if not self.enabled:
            return
        line = "watch: " + progress_text(event)
        pad = " " * max(0, self._width - len(line))
        self._width = len(line)
        end = "\n" if event.finished else ""
        self.stream.write("\r" + line + pad + end)
        self.stream.flush()
        if event.finished:
            self._width = 0


def progress_text(event: ProgressEvent, *, job_chars: int | None = None) -> str:
    """One line for an event: state, elapsed time, job id, then the source or message.

    ``job_chars`` shortens a longer job id to its first characters and "…" (a 36-character
    UUID would wrap the line next to the picker's buttons).
    """
    parts = [event.state, f"{event.elapsed:.1f} s"]
    if event.query_id is not None:
        parts.append(f"query {event.query_id}")
    if event.job_id:
        job = event.job_id
        if job_chars is not None and len(job) > job_chars + 1:
            job = job[:job_chars] + "…"
        parts.append(f"job {job}")
    if event.parts_total is not None:
        parts.append(f"{event.parts_done or 0}/{event.parts_total} parts")
    if event.source:
        parts.append(event.source)
    if event.message:
        parts.append(event.message)
    parts.extend(_amount_parts(event))
    return " · ".join(parts)


def _amount_parts(event: ProgressEvent) -> list[str]:
    """Bytes (of the total) and rate of a ``receiving`` event; the estimate and rows of a
    download or a sweep."""
    parts: list[str] = []
    if event.bytes_received is not None and event.bytes_total is not None:
        total, unit = _size(event.bytes_total)
        scale = _UNITS[unit]
        parts.append(f"{event.bytes_received / scale:.1f} of {total} {unit}")
    elif event.bytes_received is not None:
        value, unit = _size(event.bytes_received)
        parts.append(f"{value} {unit}")
    if event.rate is not None:
        value, unit = _size(event.rate)
        parts.append(f"{value} {unit}/s")
    if event.eta is not None:
        parts.append(f"~{math.ceil(event.eta)} s left")
    if event.rows is not None:
        parts.append(f"{event.rows:,} rows")
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
