"""Run an execution to its end: POST → cached result or job → poll → result id.

The one place that polls. Every job state is handled (docs/protocol.md#jobs): finished
returns, failed and cancelled raise, 1/6/7 count as waiting and 2 as running. Polling starts
fast and slows down; an overall deadline bounds the whole wait. When the wait is abandoned (the
deadline, KeyboardInterrupt, or an error such as a poll whose retries ran out) the server job
is cancelled before the error propagates, and the error says what became of the job.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NoReturn

from ._deadline import DEADLINE_SLACK, deadline, no_deadline, seconds_text, time_left
from ._progress import ProgressEvent, ProgressListener, Ticker
from .errors import (
    QueryCancelledError,
    QueryFailedError,
    WatchError,
    WatchTimeoutError,
    one_line,
)
from .models import Job, JobStatus

__all__ = ["PollSchedule", "Outcome", "Execution", "cancel_once"]

log = logging.getLogger("watch_pandas")

# Seconds a clean-up cancel may take once the read's own deadline has passed.
CANCEL_GRACE = 10.0


class _CancelClaims:
    """The jobs this process has sent (or is sending) a cancel for, so that each job is
    cancelled once: when a read of several jobs is interrupted, both the interrupt and each
    job's own wait want to cancel, and a second cancel of a cancelled job is a server error
    (docs/protocol.md#error-answers). Bounded: the oldest claims are forgotten."""

    def __init__(self, limit: int = 4096) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._claimed: OrderedDict[tuple[object, str], None] = OrderedDict()

    def claim(self, key: tuple[object, str]) -> bool:
        """True for the first caller of ``key`` (it sends the cancel), False for the others."""
        with self._lock:
            if key in self._claimed:
                return False
            self._claimed[key] = None
            while len(self._claimed) > self._limit:
                self._claimed.popitem(last=False)
            return True

    def release(self, key: tuple[object, str]) -> None:
        """The cancel failed: a later caller may try again."""
        with self._lock:
            self._claimed.pop(key, None)


_claims = _CancelClaims()


def cancel_once(client: Any, job_id: str) -> bool:
    """Cancel the server job unless this process already has; True if this call sent it.

    A refused cancel of a job that turns out to be cancelled already (by another client, or
    before this process saw it end) counts as done. Any other failure raises the WatchError
    and leaves the job free for a later try."""
    url = getattr(client, "url", None)  # the server; a client without one stands for itself
    key = (url if isinstance(url, str) else client, job_id)
    if not _claims.claim(key):
        log.debug("job %s: its cancel was already sent", job_id)
        return False
    try:
        client.cancel_job(job_id)
    except WatchError as exc:
        if _already_cancelled(client, job_id):
            log.debug("job %s was already cancelled (%s)", job_id, one_line(exc))
            return True
        _claims.release(key)
        raise
    return True


def _already_cancelled(client: Any, job_id: str) -> bool:
    try:
        return bool(client.get_job(job_id).is_cancelled)
    except WatchError:
        return False


class _DeadlinePassed(Exception):
    """The wait reached the read's deadline between polls (internal)."""


@dataclass(frozen=True)
class PollSchedule:
    """Adaptive poll intervals: ``first`` seconds, growing by ``factor`` up to ``maximum``."""

    first: float = 0.1
    factor: float = 1.5
    maximum: float = 2.0

    def intervals(self):
        interval = self.first
        while True:
            yield interval
            interval = min(interval * self.factor, self.maximum)


@dataclass(frozen=True)
class Outcome:
    """How an execution ended: an inline result ``body``, or a finished job's ``result_id``
    (or its ``value``, for a job that is not a query run: docs/protocol.md#schema)."""

    body: bytes | None = None
    result_id: int | None = None
    job_id: str | None = None
    value: Any = None

    @property
    def fresh(self) -> bool:
        """True when a job ran (the result was not served from the server's cache)."""
        return self.job_id is not None


class Execution:
    """One execution of a query or of ad-hoc SQL, with its deadline and progress listeners.

    ``client`` needs ``get_job(job_id, query_id=...)`` and ``cancel_job(job_id)``; ``start`` is
    a callable that sends the POST and returns an ``ExecutionResponse`` (``.job`` or ``.body``).
    ``value_result``: the job finishes with a value in ``result`` (a schema refresh), not a
    result id.
    """

    def __init__(
        self,
        client,
        *,
        query_id: int | None = None,
        query_url: str | None = None,
        timeout: float | None = None,
        listeners: Sequence[ProgressListener] = (),
        schedule: PollSchedule = PollSchedule(),
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        value_result: bool = False,
    ) -> None:
        self.client = client
        self.value_result = value_result
        self.query_id = query_id
        self.query_url = query_url
        self.timeout = timeout
        self.listeners = tuple(listeners)
        # keeps a drawn line's elapsed time moving between polls (inside final_event)
        self._ticker = Ticker(self.listeners, clock=clock)
        self.schedule = schedule
        self._clock = clock
        self._sleep = sleep
        self._started = clock()
        self.job_id: str | None = None
        self._ended = False  # a terminal event (done/failed/cancelled) was emitted
        self._cancel_error: WatchError | None = None  # why the last cancel failed

    # -- progress ---------------------------------------------------------------------------
    @property
    def elapsed(self) -> float:
        return self._clock() - self._started

    def report(self, state, message: str = "", source: str | None = None, **download: Any) -> None:
        """Emit a progress event for this execution (``download``: the download fields of
        :class:`ProgressEvent`, see :mod:`watch_pandas._download`)."""
        if state in ("done", "failed", "cancelled"):
            self._ended = True
        self._ticker(
            ProgressEvent(
                state=state,
                elapsed=self.elapsed,
                query_id=self.query_id,
                job_id=self.job_id,
                message=message,
                source=source,
                **download,
            )
        )

    @contextmanager
    def final_event(self) -> Iterator[None]:
        """Make sure listeners see an end: on an error escaping the block, ``failed`` (or
        ``cancelled`` for Ctrl-C) is emitted unless a terminal event already was.

        Inside the block a drawn progress line's elapsed time keeps moving (a
        :class:`~watch_pandas._progress.Ticker`); its thread ends with the block, however."""
        try:
            with self._ticker:
                yield
        except KeyboardInterrupt:
            if not self._ended:
                self.report("cancelled", "interrupted")
            raise
        except BaseException as exc:
            if not self._ended:
                self.report("failed", one_line(exc) if isinstance(exc, WatchError) else repr(exc))
            raise

    def remaining(self) -> float | None:
        """Seconds left before the deadline: this execution's ``timeout`` or the thread's
        :func:`~watch_pandas._deadline.deadline`, whichever comes first (``None``: no limit)."""
        own = None if self.timeout is None else self.timeout - self.elapsed
        outer = time_left()
        if own is None or outer is None:
            return own if outer is None else outer
        return min(own, outer)

    # -- the run ----------------------------------------------------------------------------
    def run(self, start: Callable[[], object]) -> Outcome:
        """Send the POST via ``start`` and wait for its result (see module docstring)."""
        self.report("queued", "submitting")
        response = start()
        job = getattr(response, "job", None)
        if job is None:
            return Outcome(body=response.body)  # type: ignore[attr-defined]
        return self.wait(job)

    def wait(self, job: Job) -> Outcome:
        """Poll ``job`` until it ends; cancel it on the deadline or on KeyboardInterrupt."""
        self.job_id = job.id
        intervals = self.schedule.intervals()
        try:
            while True:
                outcome = self._check(job)
                if outcome is not None:
                    return outcome
                remaining = self.remaining()
                if remaining is not None and remaining <= 0:
                    raise _DeadlinePassed
                delay = next(intervals)
                if remaining is not None:
                    delay = max(0.0, min(delay, remaining))
                self._sleep(delay)
                job = self.client.get_job(job.id, query_id=self.query_id)
        except (QueryFailedError, QueryCancelledError):
            raise  # the job ended on the server: nothing to cancel
        except _DeadlinePassed:
            self._on_deadline(None)  # cancels the job, raises WatchTimeoutError
        except WatchTimeoutError as exc:
            self._on_deadline(exc)  # a request inside the wait could not finish in time
        except WatchError as exc:
            # The poll failed for good (its retries ran out, the job is unknown...): the job
            # must not run on unattended, and the error says it was given up.
            cancelled = self.cancel(reason=one_line(exc), explained=True)
            _amend(exc, f"Stopped waiting: {self._fate(cancelled)}")
            raise
        except BaseException:
            # Ctrl-C, or a bug: the server job must not run on unattended either.
            self.cancel(reason="interrupted")
            raise

    def _check(self, job: Job) -> Outcome | None:
        if job.status == JobStatus.FINISHED:
            if self.value_result:
                return Outcome(value=job.result, job_id=job.id)
            if job.query_result_id is None:
                raise QueryFailedError(
                    f"Job {job.id} finished without a result id{self._where()}.",
                    query_id=self.query_id,
                    job_id=job.id,
                )
            return Outcome(result_id=job.query_result_id, job_id=job.id)
        if job.is_cancelled:
            self.report("cancelled", job.error or "cancelled")
            raise QueryCancelledError(
                f"Job {job.id} was cancelled{self._where()}: "
                f"{_sentence(job.error or 'the server gave no reason')} "
                "Run it again to get a result.",
                query_id=self.query_id,
                job_id=job.id,
            )
        if job.status == JobStatus.FAILED:
            server_message = job.error or "(the server gave no reason)"
            self.report("failed", server_message)
            raise QueryFailedError(
                f"The query failed{self._where()}: {server_message}",
                server_message=job.error,
                query_id=self.query_id,
                job_id=job.id,
            )
        state = "running" if job.status == JobStatus.STARTED else "queued"
        self.report(state)
        return None

    def _on_deadline(self, inner: WatchTimeoutError | None) -> NoReturn:
        """Cancel the job and raise the timeout; ``inner`` is a request's own timeout error."""
        # A request that gave up with time left (a Retry-After or a backoff longer than that)
        # says why; one cut short by the deadline itself adds nothing.
        left = self.remaining()
        early = inner is not None and left is not None and left > DEADLINE_SLACK
        cancelled = self.cancel(reason="deadline", explained=True)
        gave_up = f"Gave up waiting after {seconds_text(self.elapsed)} s{self._where()}"
        fate = self._fate(cancelled)
        if early:  # the request's message already says what to do
            message = f"{gave_up}: {inner} {fate[0].upper()}{fate[1:]}"
        else:
            message = f"{gave_up}; {fate} Raise timeout= or use a cached result (max_age=None)."
        raise WatchTimeoutError(message, query_id=self.query_id, job_id=self.job_id) from None

    def _fate(self, cancelled: bool) -> str:
        """What became of the server job, as the end of a message."""
        if cancelled:
            return f"job {self.job_id} was cancelled on the server."
        why = f": {self._cancel_error}" if self._cancel_error is not None else "."
        return f"job {self.job_id} could not be cancelled, so it may still run on the server{why}"

    def cancel(self, *, reason: str = "cancelled", explained: bool = False) -> bool:
        """Cancel the server job (best effort); True when the server accepted the cancel.

        A failed cancel is a warning, unless ``explained``: the caller's error then says why
        (see :meth:`_fate`), and the log keeps it at debug level instead of repeating it.
        """
        if self.job_id is None:
            return False
        try:
            # The read's deadline may have passed already: the cancel gets its own grace time.
            with no_deadline(), deadline(CANCEL_GRACE):
                cancel_once(self.client, self.job_id)  # False: another party cancelled it
        except WatchError as exc:
            level = logging.DEBUG if explained else logging.WARNING
            log.log(level, "could not cancel job %s: %s", self.job_id, exc)
            self._cancel_error = exc
            return False
        self.report("cancelled", reason)
        return True

    def _where(self) -> str:
        if self.query_id is None:
            return ""
        link = f" ({self.query_url})" if self.query_url else ""
        return f" for query {self.query_id}{link}"


def _amend(exc: WatchError, sentence: str) -> None:
    """Add ``sentence`` to ``exc``'s message (its type and context stay as raised)."""
    exc.message = f"{exc.message} {sentence}"
    exc.args = (exc.message,)


def _sentence(text: str) -> str:
    """``text`` ending like a sentence (the server's texts come with or without a full stop)."""
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else f"{text}."
