"""timeout= bounds the whole read, whatever the server does; the job is cancelled on the way out.

The bounds asserted here are functional (a read must end near its deadline instead of minutes
later), with generous margins; they are not speed targets.
"""

from __future__ import annotations

import time

import pytest

from watch_pandas import (
    ConfigError,
    ForbiddenError,
    WatchClient,
    WatchTimeoutError,
    read_watch_query,
    run_sql,
)
from watch_pandas._execution import CANCEL_GRACE

MARGIN = 5.0  # seconds of slack on a shared machine


def _job_status(lw, job_id: str) -> dict:
    with WatchClient(lw.url, lw.admin_key) as watch:
        job = watch.get_job(job_id)
    return {"status": int(job.status), "error": job.error}


def test_a_hanging_poll_cannot_outlive_the_deadline(lw):
    lw.hold_jobs()
    lw.faults.hang_next(1, seconds=30, path="/api/jobs/*", method="GET")
    events = []
    started = time.monotonic()
    with pytest.raises(WatchTimeoutError) as info:
        read_watch_query(
            lw.demo.queries["prices"],
            max_age=0,
            timeout=2,
            cache=False,
            progress=events.append,
            url=lw.url,
            api_key=lw.admin_key,
        )
    took = time.monotonic() - started
    assert took < 2 + CANCEL_GRACE + MARGIN  # not the 30 s the server hangs
    assert info.value.job_id is not None
    assert _job_status(lw, info.value.job_id) == {"status": 4, "error": "Query cancelled by user."}
    assert events[-1].state == "cancelled"


def test_a_retry_after_beyond_the_deadline_is_not_waited_for(lw):
    lw.faults.fail_next(3, status=503, retry_after=60, path="/api/queries/*", method="GET")
    started = time.monotonic()
    with pytest.raises(WatchTimeoutError, match="deadline"):
        read_watch_query(
            lw.demo.queries["prices"],
            timeout=2,
            cache=False,
            progress=False,
            url=lw.url,
            api_key=lw.admin_key,
        )
    assert time.monotonic() - started < 2 + MARGIN
    assert lw.counters.executions == 0


def test_run_sql_is_bounded_too(lw):
    lw.hold_jobs()
    with pytest.raises(WatchTimeoutError) as info:
        run_sql(
            "SELECT 42 AS answer",
            "demo-sqlite",
            max_age=0,
            timeout=1,
            progress=False,
            url=lw.url,
            api_key=lw.admin_key,
        )
    assert _job_status(lw, info.value.job_id)["status"] == 4


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("max_age", "600"),
        ("max_age", True),
        ("max_age", -5),
        ("timeout", "5"),
        ("timeout", 0),
        ("dtype_backend", "arrow"),
    ],
)
def test_bad_options_are_refused_before_any_request(lw, option, value):
    with pytest.raises(ConfigError, match=option):
        read_watch_query(
            lw.demo.queries["prices"],
            cache=False,
            progress=False,
            url=lw.url,
            api_key=lw.admin_key,
            **{option: value},
        )
    assert lw.counters.requests() == 0


def test_listeners_see_a_final_event_when_the_post_is_refused(lw):
    """A query key may not run a query with a text parameter: the POST is refused (403)."""
    events = []
    qid = lw.demo.queries["param_text"]
    with pytest.raises(ForbiddenError):
        read_watch_query(
            qid,
            max_age=0,
            cache=False,
            progress=events.append,
            url=lw.url,
            api_key=lw.query_key(qid),
        )
    assert [e.state for e in events] == ["queued", "failed"]
    assert "unsafe" in events[-1].message
