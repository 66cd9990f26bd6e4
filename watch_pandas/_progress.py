"""Progress events of an execution, and the listeners that show them.

Execution emits a :class:`ProgressEvent` at every state change (and on each poll while
waiting). UIs are listeners: a text line on stderr, an ipywidget, a log record. A listener is
any callable taking one event; a listener that raises is logged and ignored, never allowed to
break the read.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TextIO

__all__ = ["ProgressEvent", "ProgressListener", "TextProgress", "emit"]

log = logging.getLogger("watch_pandas")

State = Literal["queued", "running", "downloading", "done", "failed", "cancelled"]


@dataclass(frozen=True)
class ProgressEvent:
    """One step of an execution.

    ``state`` is queued → running → downloading → done (or failed / cancelled); ``elapsed`` is
    seconds since the read started; ``job_id`` is set once the server made a job; ``message``
    is a human sentence (the server's error for ``failed``); ``source`` says where the frame
    came from when done ("server cache", "fresh run", "local cache").
    """

    state: State
    elapsed: float
    query_id: int | None = None
    job_id: str | None = None
    message: str = ""
    source: str | None = None

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed", "cancelled")


ProgressListener = Callable[[ProgressEvent], None]


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
        parts = [f"watch: {event.state}", f"{event.elapsed:5.1f}s"]
        if event.query_id is not None:
            parts.append(f"query {event.query_id}")
        if event.job_id:
            parts.append(f"job {event.job_id}")
        if event.message:
            parts.append(event.message)
        line = " · ".join(parts)
        pad = " " * max(0, self._width - len(line))
        self._width = len(line)
        end = "\n" if event.finished else ""
        self.stream.write("\r" + line + pad + end)
        self.stream.flush()
        if event.finished:
            self._width = 0
