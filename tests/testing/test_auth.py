"""Authentication and key scopes (docs/protocol.md#authentication, #key-kinds)."""

from __future__ import annotations

import pytest
import requests
from _samples import load_sample
from local_watch_helpers import call, run_saved

PLEASE_LOGIN = load_sample("01-auth-bad-key")["body"]


@pytest.mark.parametrize(
    ("key", "header"),
    [("wrong-key", "Key"), (None, "Key"), ("ADMIN", "Bearer")],
    ids=["bad-key", "no-key", "bearer"],
)
def test_bad_missing_or_bearer_key_is_404_please_login(local_watch, key, header):
    key = local_watch.admin_key if key == "ADMIN" else key
    reply = call(local_watch, "GET", "/api/queries", key, header=header)
    assert reply.status_code == load_sample("02-auth-no-key")["status"] == 404
    assert reply.json() == PLEASE_LOGIN
    assert reply.headers["Content-Type"] == "application/json"


def test_bare_key_and_key_prefix_both_work(local_watch):
    assert call(local_watch, "GET", "/api/queries", header="").status_code == 200
    assert call(local_watch, "GET", "/api/queries", header="Key").status_code == 200


def test_api_key_query_argument_wins_over_header(local_watch):
    good = local_watch.admin_key
    url = f"{local_watch.url}/api/queries"
    wins = requests.get(url, params={"api_key": good}, headers={"Authorization": "Key bad"})
    loses = requests.get(url, params={"api_key": "bad"}, headers={"Authorization": f"Key {good}"})
    assert (wins.status_code, loses.status_code) == (200, 404)


def test_config_needs_no_key_but_session_does(local_watch):
    assert call(local_watch, "GET", "/api/config", None).status_code == 200
    assert call(local_watch, "GET", "/api/session", None).status_code == 404


def test_second_user_key_works_everywhere(local_watch):
    key = local_watch.add_user("analyst")
    assert key != local_watch.admin_key
    assert call(local_watch, "GET", "/api/dashboards", key).status_code == 200
    session = call(local_watch, "GET", "/api/session", key).json()
    assert session["user"]["name"] == "analyst"
    assert "admin" not in session["user"]["permissions"]


@pytest.fixture
def safe_query(sqlite_lw):
    qid = sqlite_lw.add_query(
        "SELECT id, price FROM demo WHERE price >= {{ min_price }} ORDER BY id",
        1,
        name="safe",
        parameters=[{"name": "min_price", "type": "number", "title": "Min", "value": 10}],
    )
    return sqlite_lw, qid, sqlite_lw.query_key(qid)


def test_query_key_works_on_its_query_routes(safe_query):
    lw, qid, qkey = safe_query
    assert call(lw, "GET", f"/api/queries/{qid}", qkey).status_code == 200
    job = run_saved(lw, qid, {"min_price": 10}, key=qkey)  # polls /api/queries/<id>/jobs/<job>
    assert job["status"] == 3
    # default-valued run: the query's own results routes serve it to the query key
    for path in (f"/api/queries/{qid}/results", f"/api/queries/{qid}/results.csv"):
        assert call(lw, "GET", path, qkey).status_code == 200
    rid = job["query_result_id"]
    assert call(lw, "GET", f"/api/queries/{qid}/results/{rid}.json", qkey).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/api/jobs/{job}",
        "/api/query_results/{rid}.json",
        "/api/queries",
        "/api/dashboards",
        "/api/data_sources",
        "/api/query_results/{rid}",
    ],
)
def test_query_key_is_404_please_login_elsewhere(safe_query, path):
    lw, qid, qkey = safe_query
    job = run_saved(lw, qid, {"min_price": 10})
    path = path.format(job=job["id"], rid=job["query_result_id"])
    reply = call(lw, "GET", path, qkey)
    assert reply.status_code == 404
    assert reply.json() == load_sample("22-query-key-global-job-route")["body"] == PLEASE_LOGIN


def test_query_key_of_another_query_is_rejected(safe_query):
    lw, qid, qkey = safe_query
    other = lw.add_query("SELECT 1 AS x", 1, name="other")
    assert call(lw, "GET", f"/api/queries/{other}", qkey).status_code == 404


def test_query_key_on_unsafe_query_is_403_job_error(sqlite_lw):
    params = load_sample("06-query-demo-params")["body"]
    qid = sqlite_lw.add_query(params["query"], 1, parameters=params["options"]["parameters"])
    sample = load_sample("20-query-key-unsafe")
    reply = call(
        sqlite_lw,
        "POST",
        f"/api/queries/{qid}/results",
        sqlite_lw.query_key(qid),
        json=sample["request"]["json"],
    )
    assert reply.status_code == sample["status"] == 403
    assert reply.json() == sample["body"]


def test_query_key_refresh_needs_a_user_key(safe_query):
    lw, qid, qkey = safe_query
    reply = call(lw, "POST", f"/api/queries/{qid}/refresh", qkey)
    assert reply.status_code == 403
    assert reply.json() == {"message": "Please use a user API key."}


def test_view_only_user_cannot_run_unsafe_or_adhoc(sqlite_lw):
    viewer = sqlite_lw.add_user("viewer", view_only=True)
    qid = sqlite_lw.add_query(
        "SELECT * FROM demo WHERE label LIKE '%{{ t }}%'",
        1,
        parameters=[{"name": "t", "type": "text", "title": "T", "value": "a"}],
    )
    reply = call(
        sqlite_lw, "POST", f"/api/queries/{qid}/results", viewer, json={"parameters": {"t": "x"}}
    )
    assert reply.status_code == 403
    assert "read-only access" in reply.json()["job"]["error"]
    adhoc = call(
        sqlite_lw,
        "POST",
        "/api/query_results",
        viewer,
        json={"query": "SELECT 1", "data_source_id": 1},
    )
    assert adhoc.status_code == 403
    assert adhoc.json()["job"]["status"] == 4


def test_admin_key_never_in_repr(local_watch):
    assert local_watch.admin_key not in repr(local_watch)
