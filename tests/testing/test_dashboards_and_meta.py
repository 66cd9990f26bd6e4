"""Dashboards, data sources, config and session (docs/protocol.md#dashboards,
#data-sources-and-configuration)."""

from __future__ import annotations

import pytest
from _samples import load_sample
from local_watch_helpers import call


@pytest.fixture
def sqlite_board(sqlite_lw):
    a = sqlite_lw.add_query("SELECT id FROM demo", 1, name="demo plain")
    b = sqlite_lw.add_query("SELECT price FROM demo", 1, name="prices")
    did = sqlite_lw.add_dashboard("Demo Dashboard", query_ids=[a, b])
    return sqlite_lw, did, (a, b)


def test_list_has_null_widgets_and_recorded_fields(sqlite_board):
    lw, did, _ = sqlite_board
    body = call(lw, "GET", "/api/dashboards").json()
    real = load_sample("34-dashboards-list")["body"]
    assert set(body) == set(real) and body["count"] == 1
    item = body["results"][0]
    assert set(item) == set(real["results"][0])
    assert item["widgets"] is None and item["slug"] == "demo-dashboard"


def test_by_id_and_by_slug_with_legacy_embed_full_queries(sqlite_board):
    lw, did, (a, b) = sqlite_board
    by_id = call(lw, "GET", f"/api/dashboards/{did}").json()
    by_slug = call(lw, "GET", "/api/dashboards/demo-dashboard?legacy").json()
    assert by_id == by_slug
    real = load_sample("37-dashboard-by-slug-legacy")["body"]
    assert set(by_id) == set(real)
    widget = by_id["widgets"][0]
    assert set(widget) == set(real["widgets"][0])
    query = widget["visualization"]["query"]
    assert set(query) == set(real["widgets"][0]["visualization"]["query"])
    assert [w["visualization"]["query"]["id"] for w in by_id["widgets"]] == [a, b]
    assert query["api_key"] == lw.query_key(a)


def test_slug_without_legacy_is_500_and_unknown_is_404(sqlite_board):
    lw, _, _ = sqlite_board
    sample = load_sample("36-dashboard-by-slug-without-legacy")
    reply = call(lw, "GET", "/api/dashboards/demo-dashboard")
    assert (reply.status_code, reply.json()) == (sample["status"], sample["body"])
    assert call(lw, "GET", "/api/dashboards/999").status_code == 404
    assert call(lw, "GET", "/api/dashboards/nope?legacy").status_code == 404


def test_create_edit_conflict_archive(local_watch):
    made = call(local_watch, "POST", "/api/dashboards", json={"name": "New board"}).json()
    assert made["is_draft"] is True and made["widgets"] is None and made["version"] == 1
    did = made["id"]
    edited = call(
        local_watch,
        "POST",
        f"/api/dashboards/{did}",
        json={"is_draft": False, "version": 1, "tags": ["x"]},
    ).json()
    assert (edited["is_draft"], edited["version"], edited["tags"]) == (False, 2, ["x"])
    stale = call(local_watch, "POST", f"/api/dashboards/{did}", json={"version": 1})
    assert stale.status_code == 409
    archived = call(local_watch, "DELETE", f"/api/dashboards/{did}")
    assert archived.status_code == 200 and archived.json()["is_archived"] is True
    assert call(local_watch, "GET", "/api/dashboards").json()["count"] == 0
    assert call(local_watch, "POST", "/api/dashboards/999", json={}).status_code == 500


def test_dashboard_tags_count_the_boards_not_archived_by_name(local_watch):
    tagged = {"one": ["z", "y"], "two": ["z"], "three": ["z", "x"]}
    for name, tags in tagged.items():
        did = call(local_watch, "POST", "/api/dashboards", json={"name": name}).json()["id"]
        call(local_watch, "POST", f"/api/dashboards/{did}", json={"tags": tags})
    call(local_watch, "DELETE", f"/api/dashboards/{did}")  # "three": its tags no longer count
    tags = call(local_watch, "GET", "/api/dashboards/tags").json()
    assert tags == {"tags": [{"name": "y", "count": 1}, {"name": "z", "count": 2}]}


def test_archiving_a_query_removes_its_widgets(sqlite_board):
    lw, did, (a, b) = sqlite_board
    call(lw, "DELETE", f"/api/queries/{a}")
    widgets = call(lw, "GET", f"/api/dashboards/{did}").json()["widgets"]
    assert [w["visualization"]["query"]["id"] for w in widgets] == [b]


def test_data_sources_sorted_by_lowercase_name(local_watch):
    local_watch.add_data_source("zeta")
    local_watch.add_data_source("Alpha", typed=True)
    local_watch.add_data_source("beta")
    body = call(local_watch, "GET", "/api/data_sources").json()
    assert [d["name"] for d in body] == ["Alpha", "beta", "zeta"]
    real = load_sample("38-data-sources")["body"][0]
    assert set(body[0]) == set(real)
    assert body[0]["type"] == "pg" and body[1]["type"] == "sqlite"
    assert body[0]["paused"] == 0 and isinstance(body[0]["paused"], int)
    one = call(local_watch, "GET", f"/api/data_sources/{body[0]['id']}").json()
    assert one["name"] == "Alpha"


def test_config_and_session_match_recorded_shapes(local_watch):
    config = call(local_watch, "GET", "/api/config", None).json()
    real_config = load_sample("39-config")["body"]
    assert set(config["client_config"]) == set(real_config["client_config"])
    assert config["client_config"]["basePath"] == local_watch.url + "/"
    session = call(local_watch, "GET", "/api/session").json()
    real_session = load_sample("40-session")["body"]
    assert set(session) == set(real_session)
    assert set(session["client_config"]) == set(real_session["client_config"])
    assert set(session["user"]["permissions"]) == set(real_session["user"]["permissions"])
    assert session["client_config"]["version"] == real_session["client_config"]["version"]
    for key in ("dateFormat", "dateTimeFormat"):
        assert config["client_config"][key] == real_config["client_config"][key]


def test_custom_formats_from_the_constructor(local_watch_factory):
    lw = local_watch_factory(date_format="YYYY-MM-DD", time_format="HH:mm:ss")
    config = call(lw, "GET", "/api/session").json()["client_config"]
    assert config["dateTimeFormat"] == "YYYY-MM-DD HH:mm:ss"
    settings = call(lw, "GET", "/api/settings/organization").json()["settings"]
    assert settings == {"date_format": "YYYY-MM-DD", "time_format": "HH:mm:ss"}


def test_v8_generation_takes_slugs(local_watch_factory):
    lw = local_watch_factory(dashboard_slug_routes=True)
    did = lw.add_dashboard("Old Style")
    assert call(lw, "GET", "/api/dashboards/old-style").json()["id"] == did
    assert call(lw, "GET", "/api/session").json()["client_config"]["version"].startswith("8.")
    assert call(lw, "DELETE", "/api/dashboards/old-style").json()["is_archived"] is True


def test_paused_data_source_refuses_execution(sqlite_lw):
    qid = sqlite_lw.add_query("SELECT 1 AS x", 1)
    sqlite_lw.pause_data_source(1, reason="maintenance")
    reply = call(sqlite_lw, "POST", f"/api/queries/{qid}/results", json={"max_age": 0})
    assert reply.status_code == 400
    assert reply.json() == {
        "job": {"status": 4, "error": "demo-sqlite is paused (maintenance). Please try later."}
    }
    assert call(sqlite_lw, "GET", "/api/data_sources").json()[0]["paused"] == 1
    sqlite_lw.resume_data_source(1)
    assert (
        "job" in call(sqlite_lw, "POST", f"/api/queries/{qid}/results", json={"max_age": 0}).json()
    )
