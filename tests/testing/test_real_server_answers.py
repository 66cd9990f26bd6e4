"""Answers the local server gives as a real one does where the recorded samples do not reach:
stale edits (409), its HTML and JSON 500s, data sources, recent queries, .xlsx downloads,
dashboard sharing and query forks (docs/protocol.md#error-answers, #queries,
#data-sources-and-configuration, #xlsx-downloads, #dashboards)."""

from __future__ import annotations

import io
import re
import zipfile
from xml.etree import ElementTree

import pytest
from _samples import load_sample
from local_watch_helpers import call, run_saved

from watch_pandas import WatchClient
from watch_pandas.errors import ConflictError, ServerError

CONFLICT = (
    "A conflict happened while processing the request. The resource might have been "
    "modified while the request was being processed."
)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHEET_NS = {"s": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}


# -- 409 and versions ------------------------------------------------------------------------
def test_query_version_stays_across_edits_and_a_stale_one_gets_the_real_409(sqlite_lw):
    qid = sqlite_lw.add_query("SELECT 1 AS x", 1, name="v")
    first = call(sqlite_lw, "POST", f"/api/queries/{qid}", json={"name": "v2", "version": 1})
    second = call(sqlite_lw, "POST", f"/api/queries/{qid}", json={"name": "v3"})
    assert first.json()["version"] == second.json()["version"] == 1  # no version generator
    stale = call(sqlite_lw, "POST", f"/api/queries/{qid}", json={"name": "x", "version": 7})
    assert (stale.status_code, stale.headers["Content-Type"]) == (409, "application/json")
    assert stale.json() == {"message": CONFLICT}
    assert call(sqlite_lw, "GET", f"/api/queries/{qid}").json()["name"] == "v3"


def test_dashboard_version_counts_edits_and_a_stale_one_gets_the_real_409(local_watch):
    did = local_watch.add_dashboard("Board")
    edited = call(local_watch, "POST", f"/api/dashboards/{did}", json={"name": "B", "version": 1})
    assert edited.json()["version"] == 2
    stale = call(local_watch, "POST", f"/api/dashboards/{did}", json={"name": "C", "version": 1})
    assert (stale.status_code, stale.json()) == (409, {"message": CONFLICT})


def test_client_maps_the_real_409_to_conflict_error_saying_someone_else_changed_it(sqlite_lw):
    qid = sqlite_lw.add_query("SELECT 1 AS x", 1, name="shared")
    with WatchClient(sqlite_lw.url, sqlite_lw.admin_key) as client:
        with pytest.raises(ConflictError) as caught:
            client.edit_query(qid, version=5, name="mine")
    message = str(caught.value)
    assert "someone else" in message and f"query {qid}" in message.lower()
    assert sqlite_lw.admin_key not in message


# -- 500s ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path", ["/api/no_such_thing", "/api/queries/1/results/1", "/api/data_sources/1/nope"]
)
def test_unmatched_api_path_with_a_key_is_the_real_html_500(sqlite_lw, path):
    reply = call(sqlite_lw, "GET", path)
    assert reply.status_code == 500
    assert reply.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "<title>500 Internal Server Error</title>" in reply.text


@pytest.mark.parametrize("key", [None, "wrong"])
def test_unmatched_api_path_without_a_valid_key_asks_to_login(sqlite_lw, key):
    reply = call(sqlite_lw, "GET", "/api/no_such_thing", key)
    assert (reply.status_code, reply.json()) == (404, load_sample("02-auth-no-key")["body"])


def test_cancelling_a_cancelled_job_is_a_500(sqlite_lw):
    sqlite_lw.hold_jobs()
    try:
        job = call(
            sqlite_lw, "POST", "/api/query_results", json={"query": "SELECT 1", "data_source_id": 1}
        ).json()["job"]
        assert call(sqlite_lw, "DELETE", f"/api/jobs/{job['id']}").status_code == 200
        again = call(sqlite_lw, "DELETE", f"/api/jobs/{job['id']}")
    finally:
        sqlite_lw.release_jobs()
    assert (again.status_code, again.json()) == (500, {"message": "Internal Server Error"})


def test_client_survives_the_html_500_with_a_readable_typed_error(sqlite_lw):
    with WatchClient(sqlite_lw.url, sqlite_lw.admin_key) as client:
        with pytest.raises(ServerError) as caught:
            client._request("GET", "data_sources/1/nope")
    message = str(caught.value)
    assert "HTTP 500" in message and "GET /api/data_sources/1/nope" in message
    assert "<" not in message and sqlite_lw.admin_key not in message


def test_client_survives_cancelling_twice(sqlite_lw):
    sqlite_lw.hold_jobs()
    try:
        job = call(
            sqlite_lw, "POST", "/api/query_results", json={"query": "SELECT 2", "data_source_id": 1}
        ).json()["job"]
        with WatchClient(sqlite_lw.url, sqlite_lw.admin_key) as client:
            client.cancel_job(job["id"])
            with pytest.raises(ServerError, match="HTTP 500"):
                client.cancel_job(job["id"])
    finally:
        sqlite_lw.release_jobs()


# -- data sources, recent ------------------------------------------------------------------
def test_data_sources_report_the_type_names_a_user_sees(local_watch):
    local_watch.add_data_source("plain")
    local_watch.add_data_source("typed", typed=True)
    listed = call(local_watch, "GET", "/api/data_sources").json()
    assert {d["name"]: d["type"] for d in listed} == {"plain": "sqlite", "typed": "pg"}


def test_single_data_source_has_the_admin_fields(local_watch):
    ds = local_watch.add_data_source("typed", typed=True)
    one = call(local_watch, "GET", f"/api/data_sources/{ds}").json()
    assert set(one) == {
        "id",
        "name",
        "type",
        "syntax",
        "paused",
        "pause_reason",
        "supports_auto_limit",
        "options",
        "queue_name",
        "scheduled_queue_name",
        "groups",
    }
    assert (one["queue_name"], one["scheduled_queue_name"]) == ("queries", "scheduled_queries")
    assert isinstance(one["options"], dict) and one["groups"] == {"2": False}
    user_key = local_watch.add_user("someone")
    refused = call(local_watch, "GET", f"/api/data_sources/{ds}", user_key)
    assert refused.status_code == 403


def test_data_source_types_answer_a_list_of_runners(local_watch):
    types = call(local_watch, "GET", "/api/data_sources/types").json()
    assert [t["type"] for t in types] == ["pg", "sqlite"]
    assert all(set(t) >= {"name", "type", "configuration_schema"} for t in types)


def test_recent_queries_are_the_callers_own_in_the_real_item_shape(sqlite_lw):
    mine = sqlite_lw.add_query("SELECT 1 AS x", 1, name="mine")
    other_key = sqlite_lw.add_user("other")
    call(sqlite_lw, "POST", "/api/queries", other_key, json={"data_source_id": 1, "query": "1"})
    recent = call(sqlite_lw, "GET", "/api/queries/recent").json()
    assert [q["id"] for q in recent] == [mine]
    single = call(sqlite_lw, "GET", f"/api/queries/{mine}").json()
    base = set(single) - {"user", "last_modified_by", "visualizations", "can_edit"}
    assert set(recent[0]) == base | {"user_id", "last_modified_by_id"}


def test_can_edit_only_where_the_real_server_sends_it(sqlite_lw):
    qid = sqlite_lw.add_query("SELECT 1 AS x", 1)
    assert "can_edit" in call(sqlite_lw, "GET", f"/api/queries/{qid}").json()
    edited = call(sqlite_lw, "POST", f"/api/queries/{qid}", json={"name": "n"}).json()
    created = call(
        sqlite_lw, "POST", "/api/queries", json={"data_source_id": 1, "query": "SELECT 3"}
    ).json()
    assert "can_edit" not in edited and "can_edit" not in created
    assert edited["is_favorite"] is False


# -- xlsx ----------------------------------------------------------------------------------
def _sheet_rows(content: bytes) -> list[list[str]]:
    """The first sheet's cells as text, read with the standard library only."""
    with zipfile.ZipFile(io.BytesIO(content)) as book:
        workbook = ElementTree.fromstring(book.read("xl/workbook.xml"))
        names = [s.get("name") for s in workbook.iter(f"{{{SHEET_NS['s']}}}sheet")]
        assert names == ["result"]
        shared = []
        if "xl/sharedStrings.xml" in book.namelist():
            strings = ElementTree.fromstring(book.read("xl/sharedStrings.xml"))
            shared = [
                "".join(t.text or "" for t in si.iter(f"{{{SHEET_NS['s']}}}t"))
                for si in strings.findall("s:si", SHEET_NS)
            ]
        sheet = ElementTree.fromstring(book.read("xl/worksheets/sheet1.xml"))
    rows = []
    for row in sheet.iter(f"{{{SHEET_NS['s']}}}row"):
        cells = []
        for cell in row.findall("s:c", SHEET_NS):
            value = cell.find("s:v", SHEET_NS)
            text = value.text if value is not None and value.text is not None else ""
            cells.append(shared[int(text)] if cell.get("t") == "s" else text)
        rows.append(cells)
    return rows


def test_xlsx_download_is_a_workbook_with_the_result(local_watch):
    ds = local_watch.add_data_source("typed", typed=True)
    local_watch.execute_sql(
        ds,
        "CREATE TABLE t (n INTEGER, label TEXT, ts TIMESTAMP, ok BOOLEAN);"
        "INSERT INTO t VALUES (1, 'a, \"b\"', '2024-01-01 09:30:00', 1), (2, NULL, NULL, 0);",
    )
    qid = local_watch.add_query("SELECT * FROM t", ds, name="xl: t")
    rid = run_saved(local_watch, qid)["query_result_id"]
    for path in (f"/api/queries/{qid}/results.xlsx", f"/api/query_results/{rid}.xlsx"):
        reply = call(local_watch, "GET", path)
        assert reply.status_code == 200, reply.text
        assert reply.headers["Content-Type"] == XLSX
        assert re.fullmatch(
            r"attachment; filename=\w+_\d{4}_\d{2}_\d{2}\.xlsx",
            reply.headers["Content-Disposition"],
        )
        rows = _sheet_rows(reply.content)
        assert rows[0] == ["n", "label", "ts", "ok"]
        assert rows[1][:3] == ["1", 'a, "b"', "2024-01-01T09:30:00"]
        assert rows[2][0] == "2" and len(rows) == 3


# -- share / unshare, fork -----------------------------------------------------------------
def test_share_and_unshare_a_dashboard(local_watch):
    did = local_watch.add_dashboard("Shared")
    shared = call(local_watch, "POST", f"/api/dashboards/{did}/share")
    assert shared.status_code == 200
    body = shared.json()
    assert set(body) == {"public_url", "api_key"}
    assert body["public_url"] == (
        f"{local_watch.url}/public/dashboards/{body['api_key']}?org_slug=default"
    )
    seen = call(local_watch, "GET", f"/api/dashboards/{did}").json()
    assert (seen["public_url"], seen["api_key"]) == (body["public_url"], body["api_key"])
    gone = call(local_watch, "DELETE", f"/api/dashboards/{did}/share")
    assert (gone.status_code, gone.json()) == (200, None)
    assert "api_key" not in call(local_watch, "GET", f"/api/dashboards/{did}").json()
    other = local_watch.add_user("not the owner")
    assert call(local_watch, "POST", f"/api/dashboards/{did}/share", other).status_code == 403


def test_fork_copies_the_query_with_its_visualizations(sqlite_lw):
    params = [{"name": "n", "title": "n", "type": "number", "value": 1}]
    qid = sqlite_lw.add_query(
        "SELECT {{ n }} AS x", 1, name="orig", parameters=params, tags=["t"], description="d"
    )
    run_saved(sqlite_lw, qid, {"n": 1})
    original = call(sqlite_lw, "GET", f"/api/queries/{qid}").json()
    reply = call(sqlite_lw, "POST", f"/api/queries/{qid}/fork")
    assert reply.status_code == 200
    fork = reply.json()
    assert fork["id"] != qid and fork["name"] == f"Copy of (#{qid}) orig"
    assert fork["api_key"] != original["api_key"] and fork["is_draft"] is True
    for same in ("query", "query_hash", "options", "tags", "description", "data_source_id"):
        assert fork[same] == original[same]
    assert fork["latest_query_data_id"] == original["latest_query_data_id"]
    assert [v["name"] for v in fork["visualizations"]] == ["Table"]
    assert fork["visualizations"][0]["id"] != original["visualizations"][0]["id"]
    assert "can_edit" not in fork
