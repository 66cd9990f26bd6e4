"""Execution jobs in a worker pool: queued (1) → running (2) → finished (3) / failed (4).

Identical SQL on the same data source while a job is queued or running returns the same job
(``enqueue_query``). Cancelling flips the job to failed with "Query cancelled by user." at once
and interrupts a running SQLite statement.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .. import _constants as C
from . import _engine
from ._store import Store, StoredResult, utcnow

CANCELLED = "Query cancelled by user."


@dataclass
class Job:
    """One execution; ``to_json`` gives the wire ``job`` object."""

    id: str
    data_source: dict[str, Any]
    sql: str
    query_hash: str
    query_id: int | None
    status: int = C.JOB_QUEUED
    error: str = ""
    result_id: int | None = None
    started_at: dt.datetime | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    _conn: Any = None

    def to_json(self) -> dict[str, Any]:
        started = self.started_at if self.status == C.JOB_STARTED else None
        return {
            "id": self.id,
            "updated_at": started.isoformat(timespec="milliseconds") if started else 0,
            "status": self.status,
            "error": self.error,
            "result": self.result_id,
            "query_result_id": self.result_id,
        }


@dataclass
class TaskJob(Job):
    """A job that is not an SQL run (a schema refresh): its ``result`` (and, as the real server
    writes it, ``query_result_id``) is a value, and a failure's ``error`` an object
    ``{code, message}`` (docs/protocol.md#schema)."""

    value: Any = None
    error_object: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        body = super().to_json()
        if self.status == C.JOB_FINISHED:
            body["result"] = body["query_result_id"] = self.value
        elif self.status == C.JOB_FAILED and self.error_object is not None:
            body["error"] = self.error_object
        return body


class TaskFailed(Exception):
    """Raised by a task's work: the job fails with ``{"code": code, "message": message}``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class JobManager:
    """Owns the worker pool and every job of one server."""

    def __init__(
        self,
        store: Store,
        *,
        workers: int,
        execution_delay: float,
        on_result: Callable[[StoredResult], None],
        failure_for: Callable[[Job], str | None],
    ) -> None:
        self._store = store
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="local-watch-job")
        self.execution_delay = execution_delay
        self._on_result = on_result
        self._failure_for = failure_for
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._active: dict[tuple[int, str], Job] = {}
        self._released = threading.Event()
        self._released.set()
        self._closed = False

    # -- control ---------------------------------------------------------------------------
    def hold(self) -> None:
        """Keep new and queued jobs at status 1 until ``release``."""
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    def shutdown(self) -> None:
        self._closed = True
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            if job.status in (C.JOB_QUEUED, C.JOB_STARTED):
                self.cancel(job.id)
        self._released.set()
        self._pool.shutdown(wait=True, cancel_futures=True)

    # -- API -------------------------------------------------------------------------------
    def enqueue(
        self, sql: str, data_source: dict[str, Any], query_hash: str, query_id: int | None
    ) -> tuple[Job, bool]:
        """A new job (and True), or the queued/running one for the same SQL and data source.

        A new job comes back as a copy taken before a worker can start it: the answer to the
        request that created it says "queued" (status 1), as a real server's always does,
        however fast the worker is (docs/protocol.md#jobs)."""
        key = (int(data_source["id"]), query_hash)
        with self._lock:
            job = self._active.get(key)
            if job is not None and job.status in (C.JOB_QUEUED, C.JOB_STARTED):
                return job, False
            job = Job(
                id=str(uuid.uuid4()),
                data_source=data_source,
                sql=sql,
                query_hash=query_hash,
                query_id=query_id,
            )
            self._jobs[job.id] = job
            self._active[key] = job
            as_queued = replace(job)
        self._pool.submit(self._run, job)
        return as_queued, True

    def submit_task(self, data_source: dict[str, Any], work: Callable[[], Any]) -> TaskJob:
        """A new job running ``work()`` in the pool (held and delayed like SQL runs); what it
        returns is the job's result, a ``TaskFailed`` it raises the job's error object."""
        job = TaskJob(
            id=str(uuid.uuid4()), data_source=data_source, sql="", query_hash="", query_id=None
        )
        with self._lock:
            self._jobs[job.id] = job
        self._pool.submit(self._run_task, job, work)
        return job

    def _run_task(self, job: TaskJob, work: Callable[[], Any]) -> None:
        try:
            while not self._released.wait(0.05):
                if job.cancelled.is_set() or self._closed:
                    return
            if not self._wait(job, self.execution_delay):
                return
            with self._lock:
                if job.cancelled.is_set():
                    return
                job.status, job.started_at = C.JOB_STARTED, utcnow()
            try:
                value = work()
            except TaskFailed as exc:
                with self._lock:
                    if not job.cancelled.is_set():
                        job.error_object = {"code": exc.code, "message": exc.message}
                        job.status = C.JOB_FAILED
                return
            with self._lock:
                if not job.cancelled.is_set():
                    job.value, job.status = value, C.JOB_FINISHED
        except Exception as exc:  # noqa: BLE001 - a worker crash is a failed job
            with self._lock:
                if not job.cancelled.is_set():
                    job.status, job.error = C.JOB_FAILED, str(exc)
        finally:
            job.done.set()

    def all(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def cancel(self, job_id: str) -> Job | None:
        """Mark the job failed/cancelled now (also after it finished) and interrupt it."""
        job = self.get(job_id)
        if job is None:
            return None
        with self._lock:
            job.status = C.JOB_FAILED
            job.error = CANCELLED
            job.result_id = None
            job.cancelled.set()
            conn = job._conn
        if conn is not None:
            try:
                conn.interrupt()
            except Exception:  # noqa: BLE001 - the connection may be closing
                pass
        return job

    # -- worker ----------------------------------------------------------------------------
    def _wait(self, job: Job, seconds: float) -> bool:
        """Sleep up to ``seconds``; False if the job was cancelled meanwhile."""
        if seconds > 0:
            job.cancelled.wait(seconds)
        return not job.cancelled.is_set()

    def _run(self, job: Job) -> None:
        try:
            self._run_inner(job)
        except Exception as exc:  # noqa: BLE001 - a worker crash is a failed job
            with self._lock:
                if not job.cancelled.is_set():
                    job.status, job.error = C.JOB_FAILED, str(exc)
        finally:
            job.done.set()

    def _run_inner(self, job: Job) -> None:
        while not self._released.wait(0.05):
            if job.cancelled.is_set() or self._closed:
                return
        if not self._wait(job, self.execution_delay):
            return
        with self._lock:
            if job.cancelled.is_set():
                return
            job.status, job.started_at = C.JOB_STARTED, utcnow()
        if not self._wait(job, self.execution_delay):
            return
        failure = self._failure_for(job)
        if failure is not None:
            self._finish(job, error=failure)
            return
        conn = _engine.connect(job.data_source["path"], job.data_source["type"])
        fd, tmp = tempfile.mkstemp(suffix=".part", dir=self._store.results_dir)
        try:
            with self._lock:
                job._conn = conn
            if job.cancelled.is_set():
                os.close(fd)
                return
            with os.fdopen(fd, "wb") as out:
                execution = _engine.execute(conn, job.sql, job.data_source["type"], out)
        except _engine.QueryError as exc:
            self._finish(job, error=str(exc))
            return
        finally:
            with self._lock:
                job._conn = None
            conn.close()
            if job.status != C.JOB_STARTED or job.cancelled.is_set():
                Path(tmp).unlink(missing_ok=True)
        if job.cancelled.is_set():
            Path(tmp).unlink(missing_ok=True)
            return
        result = self._store.add_result(
            data_source_id=int(job.data_source["id"]),
            query_hash=job.query_hash,
            query=job.sql,
            columns=execution.columns,
            row_count=execution.row_count,
            runtime=execution.runtime,
            rows_file=Path(tmp),
        )
        self._on_result(result)
        self._finish(job, result_id=result.id)

    def _finish(self, job: Job, *, error: str | None = None, result_id: int | None = None) -> None:
        with self._lock:
            if job.cancelled.is_set():
                return
            if error is not None:
                job.status, job.error = C.JOB_FAILED, error
            else:
                job.status, job.result_id = C.JOB_FINISHED, result_id
