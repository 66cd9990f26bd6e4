"""Fault injection and counters (issue #3, requirement 4)."""

from __future__ import annotations

import http.client
import socket
from urllib.parse import urlsplit

import pytest
import requests
from local_watch_helpers import call, run_saved


def test_fail_next_with_retry_after_then_normal(local_watch):
    local_watch.faults.fail_next(2, status=503, retry_after=3)
    first = call(local_watch, "GET", "/api/queries")
    second = call(local_watch, "GET", "/api/queries")
    third = call(local_watch, "GET", "/api/queries")
    assert [r.status_code for r in (first, second, third)] == [503, 503, 200]
    assert first.headers["Retry-After"] == "3"
    assert local_watch.faults.pending == 0


def test_fail_next_only_matching_path_and_method(local_watch):
    local_watch.faults.fail_next(
        1, status=502, path="/api/jobs/*", method="GET", body={"message": "bad gateway"}
    )
    assert call(local_watch, "GET", "/api/queries").status_code == 200
    assert call(local_watch, "DELETE", "/api/jobs/x").status_code == 500  # not GET: real answer
    reply = call(local_watch, "GET", "/api/jobs/x")
    assert (reply.status_code, reply.json()) == (502, {"message": "bad gateway"})
    assert "Retry-After" not in reply.headers
    assert call(local_watch, "GET", "/api/jobs/x").status_code == 500  # consumed


def test_hang_next_delays_then_answers(local_watch):
    local_watch.faults.hang_next(1, seconds=2.0, path="/api/session")
    with pytest.raises(requests.exceptions.ReadTimeout):
        call(local_watch, "GET", "/api/session", timeout=0.2)
    assert call(local_watch, "GET", "/api/session").status_code == 200


def test_html_next_is_a_login_page(local_watch):
    local_watch.faults.html_next(1)
    reply = call(local_watch, "GET", "/api/queries")
    assert reply.status_code == 200
    assert reply.headers["Content-Type"].startswith("text/html")
    with pytest.raises(ValueError):
        reply.json()


def _raw_get(lw, path):
    """GET with http.client so the cut body can be observed precisely."""
    parts = urlsplit(lw.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.request("GET", path, headers={"Authorization": f"Key {lw.admin_key}"})
    return conn.getresponse()


def test_truncate_next_sends_less_than_content_length(local_watch):
    local_watch.faults.truncate_next(1, path="/api/queries")
    response = _raw_get(local_watch, "/api/queries")
    announced = int(response.getheader("Content-Length"))
    with pytest.raises(http.client.IncompleteRead) as info:
        response.read()
    assert 0 < len(info.value.partial) < announced
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        local_watch.faults.truncate_next(1)
        call(local_watch, "GET", "/api/queries")


def test_reset_next_breaks_the_connection_mid_body(local_watch):
    local_watch.faults.reset_next(1)
    response = _raw_get(local_watch, "/api/queries")
    with pytest.raises((http.client.IncompleteRead, ConnectionResetError, socket.error)):
        response.read()
    assert call(local_watch, "GET", "/api/queries").status_code == 200  # server still fine


def test_faults_reject_non_positive_counts(local_watch):
    with pytest.raises(ValueError, match="positive"):
        local_watch.faults.fail_next(0)


def test_counters_per_route_and_executions(local_watch):
    ds = local_watch.add_data_source("db")
    qid = local_watch.add_query("SELECT 1 AS x", ds)
    run_saved(local_watch, qid)
    counters = local_watch.counters
    assert counters.executions == 1
    assert counters.requests("POST", "/api/queries/<id>/results") == 1
    assert counters.requests("GET", "/api/queries/<id>/jobs/<id>") >= 1
    counters.reset()
    call(local_watch, "POST", f"/api/queries/{qid}/results", json={})  # cache hit
    call(local_watch, "GET", f"/api/queries/{qid}/results.csv")
    assert counters.executions == 0
    assert counters.requests() == 2
    assert counters.requests("GET", "/api/queries/<id>/results.<ext>") == 1
    assert counters.snapshot()["requests"] == {
        "GET /api/queries/<id>/results.<ext>": 1,
        "POST /api/queries/<id>/results": 1,
    }


def test_faulted_requests_are_counted_too(local_watch):
    local_watch.faults.fail_next(1)
    call(local_watch, "GET", "/api/queries")
    call(local_watch, "GET", "/api/queries")
    assert local_watch.counters.requests("GET", "/api/queries") == 2
