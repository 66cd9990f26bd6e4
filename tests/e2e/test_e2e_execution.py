"""Execution over real HTTP: cache hits, max_age, dedup, cancel on deadline and Ctrl-C,
failures, and the query-key flow (poll the query's job route, then re-POST)."""

from __future__ import annotations

import threading

import pytest

from watch_pandas import (
    QueryCancelledError,
    QueryFailedError,
    WatchClient,
    WatchTimeoutError,
    read_watch_query,
)
from watch_pandas.models import JobStatus

POST_RESULTS = "/api/queries/<id>/results"
USER_JOB = "/api/jobs/<id>"
QUERY_JOB = "/api/queries/<id>/jobs/<id>"


def test_cached_result_executes_nothing(lw, read):
    frame = read(lw.demo.queries["prices"])  # seeded by the demo
    assert lw.counters.executions == 0
    assert lw.counters.requests("POST", POST_RESULTS) == 1
    assert lw.counters.requests("GET", USER_JOB) == 0
    assert frame.attrs["watch"]["source"] == "server cache"
    assert frame.attrs["watch"]["job_id"] is None


def test_max_age_zero_always_runs(lw, read):
    qid = lw.demo.queries["markets"]
    first = read(qid, max_age=0)
    second = read(qid, max_age=0)
    assert lw.counters.executions == 2
    assert first.attrs["watch"]["source"] == second.attrs["watch"]["source"] == "fresh run"
    assert first.attrs["watch"]["result_id"] != second.attrs["watch"]["result_id"]
    assert first.equals(second)


def test_max_age_window_reuses_a_fresh_result(lw, read):
    qid = lw.demo.queries["param_enum"]
    fresh = read(qid, {"chain": "ethereum"}, max_age=0)
    again = read(qid, {"chain": "ethereum"}, max_age=3600)
    assert lw.counters.executions == 1
    assert again.attrs["watch"]["source"] == "server cache"
    assert again.attrs["watch"]["result_id"] == fresh.attrs["watch"]["result_id"]


def test_identical_concurrent_reads_share_one_job(lw):
    qid = lw.demo.queries["positions"]
    lw.hold_jobs()
    frames: list = []
    errors: list = []

    def one_read() -> None:
        try:
            frames.append(
                read_watch_query(
                    qid, max_age=0, url=lw.url, api_key=lw.admin_key, progress=False, timeout=30
                )
            )
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one_read) for _ in range(2)]
    for thread in threads:
        thread.start()
    # wait until both POSTs reached the server, then let the (single) job run
    for _ in range(500):
        if lw.counters.requests("POST", POST_RESULTS) == 2:
            break
        threading.Event().wait(0.01)
    lw.release_jobs()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert lw.counters.executions == 1
    seen_jobs = {f.attrs["watch"]["job_id"] for f in frames}
    assert len(seen_jobs) == 1
    assert frames[0].equals(frames[1])


def test_deadline_cancels_the_job_on_the_server(lw, client):
    lw.hold_jobs()
    with pytest.raises(WatchTimeoutError) as caught:
        read_watch_query(
            lw.demo.queries["prices"],
            max_age=0,
            timeout=0.5,
            url=lw.url,
            api_key=lw.admin_key,
            progress=False,
        )
    job_id = caught.value.job_id
    assert job_id and job_id in str(caught.value)
    assert "cancelled on the server" in str(caught.value)
    assert lw.counters.requests("DELETE", USER_JOB) == 1
    job = client.get_job(job_id)
    assert job.status == JobStatus.FAILED
    assert job.is_cancelled
    assert job.error == "Query cancelled by user."


def test_keyboard_interrupt_while_running_cancels_the_job(lw, client):
    lw.execution_delay = 1.0  # one second queued, one second running: "running" is seen
    seen: list[str] = []
    job_ids: list[str] = []

    def interrupt_when_running(event) -> None:
        seen.append(event.state)
        if event.state == "running":
            job_ids.append(event.job_id)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        read_watch_query(
            lw.demo.queries["positions"],
            max_age=0,
            url=lw.url,
            api_key=lw.admin_key,
            progress=interrupt_when_running,
        )
    assert "running" in seen and seen[-1] == "cancelled"
    assert lw.counters.requests("DELETE", USER_JOB) == 1
    job = client.get_job(job_ids[0])
    assert job.is_cancelled and job.error == "Query cancelled by user."


def test_cancelled_by_someone_else_raises_cancelled(lw, client):
    lw.hold_jobs()
    qid = lw.demo.queries["markets"]
    started = threading.Event()

    def cancel_when_queued(event) -> None:
        if event.state == "queued" and event.job_id and not started.is_set():
            started.set()
            client.cancel_job(event.job_id)

    with pytest.raises(QueryCancelledError, match="cancelled"):
        read_watch_query(
            qid, max_age=0, url=lw.url, api_key=lw.admin_key, progress=cancel_when_queued
        )


def test_failing_query_raises_with_the_database_message(lw, read):
    with pytest.raises(QueryFailedError) as caught:
        read(lw.demo.queries["failing"])
    assert caught.value.server_message == "no such table: no_such_table"
    assert "no such table: no_such_table" in str(caught.value)
    assert str(lw.demo.queries["failing"]) in str(caught.value)


def test_injected_database_error_reaches_the_user(lw, read):
    qid = lw.demo.queries["param_number"]
    lw.fail_query(qid, 'relation "prices" does not exist')
    with pytest.raises(QueryFailedError) as caught:
        read(qid, {"min_price": 1}, max_age=0)
    assert caught.value.server_message == 'relation "prices" does not exist'


# -- query API keys ---------------------------------------------------------------------
@pytest.fixture
def read_with_query_key(lw):
    def read(name: str, params=None, **kwargs):
        qid = lw.demo.queries[name]
        return read_watch_query(
            qid,
            params,
            url=lw.url,
            api_key=lw.query_key(qid),
            progress=False,
            cache=False,
            **kwargs,
        )

    return read


def test_query_key_parameterized_read_polls_query_route_and_reposts(lw, read, read_with_query_key):
    params = {"min_price": 2345.5}
    frame = read_with_query_key("param_number", params, max_age=0)
    assert lw.counters.executions == 1
    assert lw.counters.requests("GET", USER_JOB) == 0
    assert lw.counters.requests("GET", QUERY_JOB) >= 1
    assert lw.counters.requests("POST", POST_RESULTS) == 2  # run, then re-POST for the data
    assert lw.counters.requests("GET", "/api/query_results/<id>.<ext>") == 0
    lw.counters.reset()
    expected = read(lw.demo.queries["param_number"], params)  # user key, from the cache
    assert lw.counters.executions == 0
    assert frame.equals(expected)
    assert frame.attrs["watch"]["source"] == "fresh run"
    assert frame.attrs["watch"]["result_id"] == expected.attrs["watch"]["result_id"]


def test_query_key_cached_read_gets_the_trimmed_inline_result(lw, read, read_with_query_key):
    frame = read_with_query_key("prices")
    assert lw.counters.executions == 0
    assert lw.counters.requests("POST", POST_RESULTS) == 1
    assert frame.equals(read(lw.demo.queries["prices"]))
    assert frame.attrs["watch"]["source"] == "server cache"


def test_query_key_cannot_run_a_query_with_a_text_parameter(lw, read_with_query_key):
    from watch_pandas import ForbiddenError

    with pytest.raises(ForbiddenError, match="unsafe parameters.*user API key"):
        read_with_query_key("param_text", {"symbol": "DAI"}, max_age=0)
    assert lw.counters.executions == 0


def test_query_key_timeout_cannot_cancel_but_says_so(lw):
    qid = lw.demo.queries["param_enum"]
    lw.hold_jobs()
    with pytest.raises(WatchTimeoutError, match="could not be cancelled"):
        read_watch_query(
            qid,
            {"chain": "optimism"},
            max_age=0,
            timeout=0.3,
            url=lw.url,
            api_key=lw.query_key(qid),
            progress=False,
        )
    assert lw.counters.requests("DELETE", USER_JOB) == 0


def test_client_job_routes_for_each_key_kind(lw):
    qid = lw.demo.queries["param_date"]
    lw.hold_jobs()
    with WatchClient(lw.url, lw.query_key(qid)) as query_client:
        query_client.get_query(qid)
        assert query_client.key_kind == "query"
        started = query_client.post_query_results(qid, {"since": "2024-03-03"}, max_age=0)
        job = query_client.get_job(started.job.id)
        assert job.status == JobStatus.QUEUED
    assert lw.counters.requests("GET", QUERY_JOB) == 1
    with WatchClient(lw.url, lw.admin_key) as user_client:
        user_client.cancel_job(started.job.id)
        assert user_client.get_job(started.job.id).is_cancelled
    assert lw.counters.requests("GET", USER_JOB) == 1
