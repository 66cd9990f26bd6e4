"""The per-thread deadline: one overall time bound that every request and wait shrinks to.

:func:`deadline` sets it for a block, :func:`no_deadline` lifts it (clean-up requests),
:func:`time_left` reads it. The transport (:mod:`watch_pandas._http`) shrinks each request's
timeouts and retry sleeps to it; the job poller (:mod:`watch_pandas._execution`) stops waiting
at it. Nothing here sends a request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = [
    "DEADLINE_SLACK",
    "DeadlineReached",
    "deadline",
    "no_deadline",
    "seconds_text",
    "time_left",
]

_deadline = threading.local()


@contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Bound every request this thread sends inside the block by ``seconds`` overall.

    Each request's timeouts shrink to the time left, a retry never sleeps past it, and a
    request that would start (or go on) after it raises :class:`WatchTimeoutError`. ``None``
    sets no bound; an inner block can only shorten an outer one. :func:`no_deadline` lifts it
    for clean-up requests such as cancelling a job.
    """
    previous = getattr(_deadline, "at", None)
    at = previous
    if seconds is not None:
        mine = time.monotonic() + float(seconds)
        at = mine if previous is None else min(previous, mine)
    _deadline.at = at
    try:
        yield
    finally:
        _deadline.at = previous


@contextmanager
def no_deadline() -> Iterator[None]:
    """Lift the current thread's deadline inside the block (clean-up requests)."""
    previous = getattr(_deadline, "at", None)
    _deadline.at = None
    try:
        yield
    finally:
        _deadline.at = previous


def time_left() -> float | None:
    """Seconds left before this thread's :func:`deadline` (``None`` when there is none)."""
    at = getattr(_deadline, "at", None)
    return None if at is None else at - time.monotonic()


# A request that fails this close to the deadline was cut short by it (its timeouts had shrunk
# to the time left), whatever the exception says.
DEADLINE_SLACK = 0.05


class DeadlineReached(Exception):
    """Raised inside urllib3's retry loop when waiting would pass the deadline (internal).

    ``status`` and ``retry_after`` are what the server answered (``None`` after a connection
    error, or without the header), ``wait`` the seconds the retry would sleep, ``left`` the
    seconds left before the deadline.
    """

    def __init__(
        self, *, status: int | None, retry_after: float | None, wait: float, left: float
    ) -> None:
        super().__init__(status, retry_after, wait, left)
        self.status = status
        self.retry_after = retry_after
        self.wait = wait
        self.left = left


def seconds_text(seconds: float) -> str:
    """Seconds as a person writes them: 1.99598 → "2", 12.34 → "12.3", 0.456 → "0.46"."""
    if seconds < 1:
        return f"{seconds:.2f}".rstrip("0").rstrip(".") or "0"
    rounded = round(seconds, 1)
    return f"{rounded:.0f}" if rounded == int(rounded) else f"{rounded}"
