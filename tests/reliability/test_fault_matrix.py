"""The fault matrix (docs/reliability.md): every injected fault ends in the right frame or a
typed WatchError that says what happened and what to do, within a bounded time.

Real HTTP against the local server; the faults come from ``lw.faults`` and the request and
execution counts from ``lw.counters``, so "retried", "not retried" and "never executed twice"
are observed on the server side, not inferred from the client's code.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
import requests
import responses

from watch_pandas import WatchClient, read_watch_query
from watch_pandas._decode import decode_csv
from watch_pandas.errors import (
    AuthError,
    LossyFormatError,
    QueryCancelledError,
    QueryFailedError,
    ServerError,
    TransportError,
    WatchError,
    WatchTimeoutError,
)
from watch_pandas.models import Column

QUERY = "/api/queries/<id>"
POST_RESULTS = "/api/queries/<id>/results"
ADHOC = "/api/query_results"
JOB = "/api/jobs/<id>"
RESULT = "/api/query_results/<id>.<ext>"
SOURCES = "/api/data_sources"
TRANSIENT = (429, 502, 503, 504)


def _routes(lw, name: str = "prices") -> dict[str, tuple[str, str, str]]:
    """Route label → (method, fault path pattern, counter template) for a saved-query read."""
    qid = lw.demo.queries[name]
    return {
        "GET query": ("GET", f"/api/queries/{qid}", QUERY),
        "GET job": ("GET", "/api/jobs/*", JOB),
        "GET result": ("GET", "/api/query_results/*", RESULT),
    }


# -- HTTP statuses on the read routes ----------------------------------------------------
@pytest.mark.parametrize("status", TRANSIENT)
@pytest.mark.parametrize("route", ["GET query", "GET job", "GET result"])
def test_transient_status_on_a_get_route_is_retried_to_the_right_frame(
    lw, fresh_read, reference, frames_equal, status, route
):
    expected = reference("prices")
    method, path, template = _routes(lw)[route]
    lw.faults.fail_next(2, status=status, path=path, method=method)
    frames_equal(fresh_read(lw.demo.queries["prices"]), expected)
    assert lw.counters.requests(method, template) == 3  # two faulted answers, then the real one
    assert lw.counters.executions == 1
    assert lw.faults.pending == 0


@pytest.mark.parametrize("retry_after", [0, 1])
def test_retry_after_is_honoured_on_a_get_route(
    lw, fresh_read, reference, frames_equal, retry_after
):
    expected = reference("prices")
    method, path, template = _routes(lw)["GET result"]
    lw.faults.fail_next(1, status=503, retry_after=retry_after, path=path, method=method)
    frames_equal(fresh_read(lw.demo.queries["prices"]), expected)
    assert lw.counters.requests(method, template) == 2


def test_retries_on_a_get_route_are_capped(lw, fresh_read, make_client):
    method, path, template = _routes(lw)["GET query"]
    lw.faults.fail_next(10, status=503, retry_after=0, path=path, method=method)
    with pytest.raises(ServerError, match=r"503.*after 2 retries.*Try again later") as caught:
        fresh_read(lw.demo.queries["prices"], client=make_client(retries=2))
    assert not isinstance(caught.value, TransportError)
    assert lw.counters.requests(method, template) == 3  # 1 + retries, then a clear error
    assert lw.counters.executions == 0


@pytest.mark.parametrize("status", [429, 503])
def test_a_retry_after_longer_than_the_time_left_names_the_status(lw, fresh_read, status):
    lw.hold_jobs()
    lw.faults.fail_next(1, status=status, retry_after=30, path="/api/jobs/*", method="GET")
    with pytest.raises(WatchTimeoutError) as caught:
        fresh_read(lw.demo.queries["markets"], timeout=2)
    message = str(caught.value)
    assert f"answered {status} with Retry-After: 30 s" in message
    assert "passed before the server answered" not in message  # it did answer
    assert lw.counters.requests("GET", JOB) == 1  # not waited for, not asked again
    assert lw.counters.requests("DELETE", JOB) == 1  # the read was abandoned: job cancelled


@pytest.mark.parametrize("route", ["GET query", "GET job", "GET result"])
def test_internal_server_error_is_not_retried_and_explained(lw, fresh_read, route):
    method, path, template = _routes(lw)[route]
    lw.faults.fail_next(1, status=500, path=path, method=method, body={"message": "boom"})
    with pytest.raises(ServerError, match=r"HTTP 500.*The server said: \"boom\"") as caught:
        fresh_read(lw.demo.queries["prices"])
    assert caught.value.status_code == 500
    assert lw.counters.requests(method, template) == 1


@pytest.mark.parametrize(("status", "retry_after"), [(500, None), (502, None), (503, 1), (504, 0)])
def test_failed_execution_post_is_never_repeated(lw, fresh_read, status, retry_after):
    """A 5xx on the POST may hide a started execution (a proxy passed it on): no blind retry."""
    qid = lw.demo.queries["prices"]
    path = f"/api/queries/{qid}/results"
    lw.faults.fail_next(3, status=status, retry_after=retry_after, path=path, method="POST")
    with pytest.raises(ServerError, match=f"HTTP {status}") as caught:
        fresh_read(qid)
    assert "POST /api/queries" in str(caught.value)
    assert lw.counters.requests("POST", POST_RESULTS) == 1
    assert lw.counters.executions == 0


@pytest.mark.parametrize(("status", "retry_after"), [(429, None), (429, 0)])
def test_rate_limited_execution_post_is_retried(
    lw, fresh_read, reference, frames_equal, status, retry_after
):
    """429 means "not processed, come back later": sending the POST again is safe."""
    expected = reference("prices")
    qid = lw.demo.queries["prices"]
    path = f"/api/queries/{qid}/results"
    lw.faults.fail_next(2, status=status, retry_after=retry_after, path=path, method="POST")
    frames_equal(fresh_read(qid), expected)
    assert lw.counters.requests("POST", POST_RESULTS) == 3
    assert lw.counters.executions == 1


def test_rate_limited_execution_posts_are_capped(lw, fresh_read, make_client):
    qid = lw.demo.queries["prices"]
    path = f"/api/queries/{qid}/results"
    lw.faults.fail_next(10, status=429, retry_after=0, path=path, method="POST")
    with pytest.raises(ServerError, match="rate-limiting.*after 2 retries"):
        fresh_read(qid, client=make_client(retries=2))
    assert lw.counters.requests("POST", POST_RESULTS) == 3
    assert lw.counters.executions == 0


def test_rate_limited_adhoc_post_is_retried(lw, fresh_sql):
    lw.faults.fail_next(1, status=429, retry_after=0, path="/api/query_results", method="POST")
    assert fresh_sql("SELECT 9 AS nine", "demo-typed")["nine"].tolist() == [9]
    assert lw.counters.requests("POST", ADHOC) == 2
    assert lw.counters.executions == 1


@pytest.mark.parametrize("status", TRANSIENT)
def test_adhoc_sql_survives_a_transient_data_source_listing(lw, fresh_sql, status):
    lw.faults.fail_next(1, status=status, path="/api/data_sources", method="GET")
    frame = fresh_sql("SELECT 7 AS seven", "demo-typed")
    assert frame["seven"].tolist() == [7]
    assert lw.counters.requests("GET", SOURCES) == 2


@pytest.mark.parametrize("status", (500, 502, 503, 504))
def test_adhoc_execution_post_is_never_repeated(lw, fresh_sql, status):
    lw.faults.fail_next(3, status=status, path="/api/query_results", method="POST")
    with pytest.raises(ServerError, match=f"POST /api/query_results.*HTTP {status}"):
        fresh_sql("SELECT 8 AS eight", "demo-typed")
    assert lw.counters.requests("POST", ADHOC) == 1
    assert lw.counters.executions == 0


# -- DELETE job (cancel on the deadline) ---------------------------------------------------
def _server_job(lw, job_id: str) -> dict:
    reply = requests.get(
        f"{lw.url}/api/jobs/{job_id}",
        headers={"Authorization": f"Key {lw.admin_key}"},
        timeout=10,
    )
    return reply.json()["job"]


def test_transient_status_on_cancel_is_retried_and_the_job_cancelled(lw, fresh_read):
    lw.hold_jobs()
    lw.faults.fail_next(2, status=503, path="/api/jobs/*", method="DELETE")
    with pytest.raises(WatchTimeoutError, match="was cancelled on the server") as caught:
        fresh_read(lw.demo.queries["markets"], timeout=0.5)
    assert lw.counters.requests("DELETE", JOB) == 3
    assert _server_job(lw, caught.value.job_id)["error"] == "Query cancelled by user."


def test_failed_cancel_is_reported_not_hidden(lw, fresh_read):
    lw.hold_jobs()
    lw.faults.fail_next(1, status=500, path="/api/jobs/*", method="DELETE")
    with pytest.raises(WatchTimeoutError, match="could not be cancelled") as caught:
        fresh_read(lw.demo.queries["markets"], timeout=0.5)
    assert caught.value.job_id
    assert lw.counters.requests("DELETE", JOB) == 1


# -- broken connections and bodies ---------------------------------------------------------
@pytest.mark.parametrize("fault", ["reset_next", "truncate_next"])
def test_a_broken_poll_reply_is_retried_and_the_job_not_cancelled(
    lw, fresh_read, reference, frames_equal, fault
):
    expected = reference("prices")
    getattr(lw.faults, fault)(1, path="/api/jobs/*", method="GET")
    frames_equal(fresh_read(lw.demo.queries["prices"]), expected)
    assert lw.faults.pending == 0
    assert lw.counters.requests("GET", JOB) >= 2  # the broken reply, then the poll again
    assert lw.counters.requests("DELETE", JOB) == 0  # the server job was never cancelled
    assert lw.counters.executions == 1


@pytest.mark.parametrize("fault", ["reset_next", "truncate_next"])
def test_a_broken_result_download_is_fetched_again_by_id_not_rerun(
    lw, fresh_read, reference, frames_equal, fault
):
    expected = reference("prices")
    getattr(lw.faults, fault)(2, path="/api/query_results/*", method="GET")
    frames_equal(fresh_read(lw.demo.queries["prices"]), expected)
    assert lw.counters.requests("GET", RESULT) == 3  # two broken downloads, then the whole one
    assert lw.counters.requests("POST", POST_RESULTS) == 1
    assert lw.counters.executions == 1


@pytest.mark.parametrize("fault", ["reset_next", "truncate_next"])
@pytest.mark.parametrize("route", ["GET query", "GET job", "GET result"])
def test_a_body_that_keeps_breaking_is_a_transport_error_never_a_partial_frame(
    lw, fresh_read, make_client, fault, route
):
    method, path, template = _routes(lw)[route]
    if route == "GET job":
        lw.hold_jobs()  # still running when the read gives up
    getattr(lw.faults, fault)(3, path=path, method=method)
    with pytest.raises(TransportError, match=r"connection broke.*after 2 retries") as caught:
        fresh_read(lw.demo.queries["prices"], client=make_client(retries=2))
    assert lw.counters.requests(method, template) == 3
    if route == "GET job":  # the read was abandoned while the job ran: it says so
        assert lw.counters.requests("DELETE", JOB) == 1
        assert f"job {caught.value.job_id} was cancelled on the server" in str(caught.value)


def test_a_broken_poll_reply_is_not_retried_past_the_deadline(lw, fresh_read, make_client):
    lw.hold_jobs()
    lw.faults.reset_next(3, path="/api/jobs/*", method="GET")
    # the first retry is immediate, the second would wait 2 * 100 s: more than timeout= allows
    client = make_client(retries=3, backoff_factor=100)
    with pytest.raises(WatchTimeoutError, match="connection broke.*cancelled on the server"):
        fresh_read(lw.demo.queries["markets"], client=client, timeout=5)
    assert lw.counters.requests("GET", JOB) == 2
    assert lw.counters.requests("DELETE", JOB) == 1


@pytest.mark.parametrize("fault", ["reset_next", "truncate_next"])
def test_broken_execution_reply_is_a_transport_error_and_not_reposted(lw, fresh_read, fault):
    qid = lw.demo.queries["prices"]
    getattr(lw.faults, fault)(1, path=f"/api/queries/{qid}/results", method="POST")
    with pytest.raises(TransportError, match="try again"):
        fresh_read(qid)
    assert lw.counters.requests("POST", POST_RESULTS) == 1


def test_a_broken_body_then_a_retry_by_the_user_gives_the_frame(
    lw, fresh_read, make_client, reference, frames_equal
):
    expected = reference("prices")
    lw.faults.truncate_next(2, path="/api/query_results/*")
    with pytest.raises(TransportError):
        fresh_read(lw.demo.queries["prices"], client=make_client(retries=1))
    frames_equal(fresh_read(lw.demo.queries["prices"]), expected)


@pytest.mark.parametrize("route", ["GET query", "GET result"])
def test_hanging_server_hits_the_read_timeout_with_advice(lw, fresh_read, make_client, route):
    method, path, template = _routes(lw)[route]
    lw.faults.hang_next(2, seconds=2.5, path=path, method=method)
    client = make_client(timeout=(1, 1), retries=1)
    with pytest.raises(TransportError, match=r"read timeout \(1 s\).*raise timeout=") as caught:
        fresh_read(lw.demo.queries["prices"], client=client)
    assert "requests" not in type(caught.value).__module__
    assert lw.counters.requests(method, template) == 2  # one retry, then the error


def test_hanging_execution_post_is_not_retried(lw, fresh_read, make_client):
    qid = lw.demo.queries["prices"]
    lw.faults.hang_next(1, seconds=2.5, path=f"/api/queries/{qid}/results", method="POST")
    with pytest.raises(TransportError, match="read timeout"):
        fresh_read(qid, client=make_client(timeout=(1, 1), retries=3))
    assert lw.counters.requests("POST", POST_RESULTS) == 1


@pytest.fixture
def unanswered_port() -> Iterator[int]:
    """A loopback port whose accept queue is full: new connections are never accepted."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    for _ in range(8):  # fill the backlog; further SYNs are dropped (connect timeout)
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(listener.getsockname())
        fillers.append(s)
    yield listener.getsockname()[1]
    for s in fillers:
        s.close()
    listener.close()


def test_connect_timeout_is_a_transport_error(unanswered_port):
    client = WatchClient(
        f"http://127.0.0.1:{unanswered_port}", "k" * 40, timeout=(0.5, 0.5), retries=0
    )
    with pytest.raises(TransportError, match=r"(timed out while connecting|read timeout)"):
        client.get_query(1)


def test_refused_connection_is_a_transport_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    client = WatchClient(f"http://127.0.0.1:{port}", "k" * 40, retries=1, backoff_factor=0)
    with pytest.raises(TransportError, match="could not connect to http://127.0.0.1"):
        client.get_query(1)


# -- answers that are not the API's JSON ---------------------------------------------------
@pytest.mark.parametrize("route", ["GET query", "GET job", "GET result"])
def test_html_page_where_json_was_expected(lw, fresh_read, route):
    method, path, _ = _routes(lw)[route]
    lw.faults.html_next(1, path=path, method=method)
    with pytest.raises(ServerError, match="HTML page instead of the API's JSON"):
        fresh_read(lw.demo.queries["prices"])


def test_html_page_on_the_execution_post(lw, fresh_read):
    qid = lw.demo.queries["prices"]
    lw.faults.html_next(1, path=f"/api/queries/{qid}/results", method="POST")
    with pytest.raises(ServerError, match="HTML page"):
        fresh_read(qid)
    assert lw.counters.executions == 0


@responses.activate
def test_login_redirect_is_an_auth_error():
    base = "http://127.0.0.1:9"
    responses.get(
        f"{base}/api/queries/5",
        status=302,
        headers={"Location": f"{base}/login?next=%2Fapi%2Fqueries%2F5"},
    )
    responses.get(
        f"{base}/login", body="<html><form action='/login'></form></html>", content_type="text/html"
    )
    with pytest.raises(AuthError, match="redirected to the server's login page"):
        read_watch_query(5, url=base, api_key="k" * 40, progress=False, cache=False)


@pytest.mark.parametrize(
    ("route", "body"),
    [
        ("GET query", b'{"id": 1, "query": '),
        ("GET job", b'{"job": {"id": '),
        ("GET result", b'{"query_result": {"data": {"columns": [], "rows": [{'),
        ("GET result", b"[1, 2, 3]"),
        ("GET result", b'{"query_result": {"data": {"columns": [], "rows": "x"}}}'),
    ],
)
def test_malformed_json_is_a_server_error(lw, fresh_read, route, body):
    method, path, _ = _routes(lw)[route]
    lw.faults.fail_next(1, status=200, path=path, method=method, body=body)
    with pytest.raises(ServerError) as caught:
        fresh_read(lw.demo.queries["prices"])
    assert "json" in str(caught.value).lower() or "result" in str(caught.value).lower()


def test_malformed_execution_reply_is_a_server_error(lw, fresh_read):
    qid = lw.demo.queries["prices"]
    lw.faults.fail_next(1, status=200, path=f"/api/queries/{qid}/results", body=b'{"job": {')
    with pytest.raises(ServerError, match="did not answer JSON"):
        fresh_read(qid)


def test_csv_row_of_the_wrong_width_is_refused():
    columns = [Column(name="a", type="integer"), Column(name="b", type="float")]
    body = b"a,b\r\n1,0.5\r\n2,1.5,extra\r\n3,2.5\r\n"
    with pytest.raises(WatchError) as caught:
        decode_csv(body, columns)
    assert not isinstance(caught.value, LossyFormatError)
    assert "does not fit the result's columns" in str(caught.value)


def test_csv_row_with_too_few_fields_is_refused():
    columns = [Column(name="a", type="integer"), Column(name="b", type="float")]
    with pytest.raises(WatchError):
        decode_csv(b"a,b\r\n1,0.5\r\n2\r\n", columns)


# -- job outcomes --------------------------------------------------------------------------
def test_failed_job_carries_the_database_message(lw, fresh_read):
    qid = lw.demo.queries["prices"]
    lw.fail_query(qid, 'column "pricee" does not exist')
    with pytest.raises(QueryFailedError, match='column "pricee" does not exist') as caught:
        fresh_read(qid)
    assert caught.value.server_message == 'column "pricee" does not exist'
    assert f"/queries/{qid}" in str(caught.value)


def test_job_cancelled_by_someone_else(lw, fresh_read, make_client):
    lw.hold_jobs()
    other = make_client()
    cancelled: list[str] = []

    def cancel_when_queued(event) -> None:
        if event.state == "queued" and event.job_id and not cancelled:
            cancelled.append(event.job_id)
            other.cancel_job(event.job_id)

    with pytest.raises(QueryCancelledError, match="cancelled.*Run it again") as caught:
        fresh_read(lw.demo.queries["markets"], progress=cancel_when_queued)
    assert caught.value.job_id == cancelled[0]


def test_job_stuck_queued_past_the_deadline_is_cancelled_then_times_out(lw, fresh_read):
    lw.hold_jobs()
    with pytest.raises(
        WatchTimeoutError, match=r"after [\d.]+ s.*cancelled on the server"
    ) as caught:
        fresh_read(lw.demo.queries["markets"], timeout=0.5)
    assert lw.counters.requests("DELETE", JOB) == 1
    job = _server_job(lw, caught.value.job_id)
    assert job["status"] == 4 and job["error"] == "Query cancelled by user."


def test_unknown_job_id_is_explained(make_client):
    with pytest.raises(ServerError, match="job id is probably unknown or expired"):
        make_client().get_job("00000000-0000-0000-0000-000000000000")


_BASE = "http://127.0.0.1:9"


def _mock_saved_query(job_statuses: list[dict]) -> None:
    responses.get(
        f"{_BASE}/api/queries/5",
        json={
            "id": 5,
            "name": "q",
            "query": "SELECT 1",
            "options": {"parameters": []},
            "data_source_id": 1,
            "version": 1,
            "api_key": "query-key-not-ours",
        },
    )
    responses.post(f"{_BASE}/api/queries/5/results", json={"job": {"id": "j1", "status": 1}})
    for status in job_statuses:
        responses.get(f"{_BASE}/api/jobs/j1", json={"job": {"id": "j1", **status}})
    responses.get(
        f"{_BASE}/api/query_results/9.json",
        json={
            "query_result": {
                "id": 9,
                "data": {"columns": [{"name": "x", "type": "integer"}], "rows": [{"x": 1}]},
            }
        },
    )


@responses.activate
@pytest.mark.parametrize("waiting", [6, 7])
def test_deferred_and_scheduled_jobs_count_as_waiting(waiting):
    _mock_saved_query([{"status": waiting}, {"status": 2}, {"status": 3, "query_result_id": 9}])
    frame = read_watch_query(5, url=_BASE, api_key="k" * 40, progress=False, cache=False, max_age=0)
    assert frame["x"].tolist() == [1]


@responses.activate
def test_status_5_is_cancelled():
    _mock_saved_query([{"status": 5, "error": ""}])
    with pytest.raises(QueryCancelledError, match="j1 was cancelled"):
        read_watch_query(5, url=_BASE, api_key="k" * 40, progress=False, cache=False, max_age=0)


@responses.activate
def test_unknown_status_number_is_a_server_error_not_a_crash():
    _mock_saved_query([{"status": 42}])
    with pytest.raises(WatchError):
        read_watch_query(5, url=_BASE, api_key="k" * 40, progress=False, cache=False, max_age=0)


def test_errors_are_never_bare_library_exceptions(lw, fresh_read):
    """Sanity: every fault above surfaced as WatchError; a JSON decoder error never leaks."""
    lw.faults.fail_next(1, status=200, path="/api/jobs/*", body=b"not json at all")
    with pytest.raises(WatchError) as caught:
        fresh_read(lw.demo.queries["prices"])
    assert not isinstance(caught.value, json.JSONDecodeError)
