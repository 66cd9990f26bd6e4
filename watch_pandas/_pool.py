"""Reading several things at once: a bounded pool of worker threads, each with its own client,
and the interrupt that cancels every server job the workers wait on.

Shared by :mod:`watch_pandas._dashboards` (one job per widget) and :mod:`watch_pandas._sweeps`
(one job per parameter set). :func:`run_all` runs ``read_one(key, item, client)`` for every
``(key, item)`` with at most ``max_workers`` in flight; a job's exception is collected, never
lost with the others. Ctrl-C (``KeyboardInterrupt`` in the caller's thread or raised by a
progress listener in a worker) stops new jobs, cancels every job still waited on (through
:class:`Interrupt`), joins the workers and only then lets their clients close.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import Any, TypeVar

from ._deadline import deadline, no_deadline
from ._execution import CANCEL_GRACE, cancel_once
from .errors import WatchError

__all__ = ["WorkerClients", "Interrupt", "run_all", "first_line"]

log = logging.getLogger("watch_pandas")
_WAKE_EVERY = 0.25  # seconds between checks for Ctrl-C while every job is still running

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")
R = TypeVar("R")


class WorkerClients:
    """One WatchClient per worker thread (or the caller's shared client); closes its own."""

    def __init__(self, shared, url, api_key, profile) -> None:
        self._shared = shared
        self._args = (url, api_key, profile)
        self._local = threading.local()
        self._made: list[Any] = []
        self._lock = threading.Lock()

    def get(self):
        if self._shared is not None:
            return self._shared
        own = getattr(self._local, "client", None)
        if own is None:
            from ._client import WatchClient

            url, api_key, profile = self._args
            own = WatchClient(url, api_key, profile=profile)
            self._local.client = own
            with self._lock:
                self._made.append(own)
        return own

    def close(self) -> None:
        with self._lock:
            made, self._made = self._made, []
        if self.abandoned:
            return  # workers may still use them; the sessions close when collected
        for own in made:
            own.close()

    abandoned = False  # set when the workers could not be joined (a second Ctrl-C)


class Interrupt:
    """The server jobs workers are waiting on, so an interrupt can cancel every one of them."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._waiting: set[str] = set()

    def tracker(self) -> Callable[[Any], None]:
        """A progress listener (run in the worker) that records the job it waits on."""

        def track(event) -> None:
            if event.job_id is None:
                return
            waiting = event.state in ("queued", "running")
            with self._lock:
                if waiting:
                    self._waiting.add(event.job_id)
                else:
                    self._waiting.discard(event.job_id)
                stopping = self.stop.is_set()
            if stopping and waiting:
                # a job that started after the interrupt: the Execution cancels it and stops
                raise KeyboardInterrupt

        return track

    def cancel_all(self, client) -> None:
        """Stop new work and cancel every job still waited on (best effort, logged)."""
        with self._lock:
            self.stop.set()
            waiting = sorted(self._waiting)
        for job_id in waiting:
            try:
                # the read's deadline may have passed: the clean-up gets its own grace time
                with no_deadline(), deadline(CANCEL_GRACE):
                    # once per job: the worker waiting on it may be cancelling it too
                    cancel_once(client, job_id)
            except WatchError as exc:
                log.warning("could not cancel job %s after the interrupt: %s", job_id, exc)


def run_all(
    jobs: list[tuple[K, T]],
    read_one: Callable[[K, T, Any], R],
    workers: WorkerClients,
    max_workers: int,
    on_interrupt: Callable[[], None] = lambda: None,
    on_done: Callable[[K, R | None, Exception | None], None] = lambda key, result, exc: None,
) -> tuple[dict[K, R], dict[K, Exception]]:
    """Run every job on a bounded pool; results and failures keyed as ``jobs``, in its order.

    ``on_done(key, result, exception)`` is called in the caller's thread as each job ends (in
    completion order): a progress listener raising ``KeyboardInterrupt`` there interrupts."""
    results: dict[K, R] = {}
    failures: dict[K, Exception] = {}
    if not jobs:
        return results, failures
    pool = ThreadPoolExecutor(max_workers=min(max_workers, len(jobs)), thread_name_prefix="watch")
    try:

        def run(key: K, item: T) -> R:
            return read_one(key, item, workers.get())  # the worker thread's own client

        futures = {pool.submit(run, key, item): key for key, item in jobs}
        pending = set(futures)
        while pending:
            # in completion order, so an interrupt inside any worker is seen at once; the
            # timeout lets a pending KeyboardInterrupt surface in this thread while all wait
            done, pending = wait(pending, timeout=_WAKE_EVERY, return_when=FIRST_COMPLETED)
            for future in done:
                key = futures[future]
                try:
                    results[key] = future.result()
                except Exception as exc:  # one job's failure must not lose the others
                    failures[key] = exc
                    on_done(key, None, exc)
                else:
                    on_done(key, results[key], None)
    except BaseException:
        # Ctrl-C: nothing new starts, every waited-on job is cancelled, then the workers are
        # joined (their next poll sees the cancel) before their clients may be closed.
        try:
            on_interrupt()
            pool.shutdown(wait=True, cancel_futures=True)
        except BaseException:  # a second Ctrl-C: stop waiting, leave the clients open
            workers.abandoned = True
            pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    order = [key for key, _ in jobs]  # keep the caller's order for both dicts
    return (
        {k: results[k] for k in order if k in results},
        {k: failures[k] for k in order if k in failures},
    )


def first_line(exc: Exception) -> str:
    """``Type: first line of the message``, for one-line summaries of several failures."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"
