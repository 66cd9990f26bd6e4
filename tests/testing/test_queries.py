"""Query listings, pagination, search, create/edit/archive (docs/protocol.md#pagination,
#queries)."""

from __future__ import annotations

import pytest
from _samples import load_sample
from local_watch_helpers import call, run_saved


@pytest.fixture
def many(sqlite_lw):
    ids = [
        sqlite_lw.add_query(
            f"SELECT {i} AS n", 1, name=f"query {i:02d}", tags=["even"] * (i % 2 == 0)
        )
        for i in range(1, 31)
    ]
    return sqlite_lw, ids


def test_pagination_envelope_default_page_size_and_order(many):
    lw, ids = many
    body = call(lw, "GET", "/api/queries").json()
    assert (body["count"], body["page"], body["page_size"]) == (30, 1, 25)
    assert [q["id"] for q in body["results"]] == sorted(ids, reverse=True)[:25]
    last = call(lw, "GET", "/api/queries", params={"page": 2}).json()
    assert [q["id"] for q in last["results"]] == sorted(ids, reverse=True)[25:]


@pytest.mark.parametrize(
    ("params", "sample"),
    [
        ({"page": 99}, "04-queries-page-out-of-range"),
        ({"page_size": 500}, "05-queries-page-size-too-big"),
    ],
)
def test_pagination_errors_match_recorded(many, params, sample):
    lw, _ = many
    recorded_exchange = load_sample(sample)
    reply = call(lw, "GET", "/api/queries", params=params)
    assert reply.status_code == recorded_exchange["status"] == 400
    assert reply.json() == recorded_exchange["body"]


def test_page_zero_and_page_size_zero(many):
    lw, _ = many
    assert call(lw, "GET", "/api/queries", params={"page": 0}).json() == {
        "message": "Page must be positive integer."
    }
    assert call(lw, "GET", "/api/queries", params={"page_size": 0}).status_code == 400


def test_non_integer_page_falls_back_to_defaults(many):
    lw, _ = many
    body = call(lw, "GET", "/api/queries", params={"page": "x", "page_size": "y"}).json()
    assert (body["page"], body["page_size"]) == (1, 25)


def test_empty_listing_page_1_is_fine(local_watch):
    body = call(local_watch, "GET", "/api/queries").json()
    assert body == {"count": 0, "page": 1, "page_size": 25, "results": []}


def test_search_order_and_tags(many):
    lw, ids = many
    found = call(lw, "GET", "/api/queries", params={"q": "query 1"}).json()
    assert {q["name"] for q in found["results"]} == {f"query {i}" for i in range(10, 20)}
    by_name = call(lw, "GET", "/api/queries", params={"order": "name", "page_size": 3}).json()
    assert [q["name"] for q in by_name["results"]] == ["query 01", "query 02", "query 03"]
    tagged = call(lw, "GET", "/api/queries", params={"tags": "even"}).json()
    assert tagged["count"] == 15
    tags = call(lw, "GET", "/api/queries/tags").json()
    assert tags == {"tags": [{"name": "even", "count": 15}]}


def test_search_route_redirects_like_recorded(many):
    lw, _ = many
    sample = load_sample("41-search-redirect")
    reply = call(lw, "GET", "/api/queries/search?q=demo", params={"api_key": lw.admin_key})
    assert reply.status_code == sample["status"] == 301
    assert reply.headers["Location"] == sample["headers"]["Location"]
    assert reply.json() == {}
    assert call(lw, "GET", "/api/queries/search").json() == []


def test_list_item_and_single_query_fields(sqlite_lw):
    qid = sqlite_lw.add_query("SELECT 1 AS x", 1, name="fields")
    run_saved(sqlite_lw, qid)
    item = call(sqlite_lw, "GET", "/api/queries").json()["results"][0]
    single = call(sqlite_lw, "GET", f"/api/queries/{qid}").json()
    real_item = load_sample("03-queries-list")["body"]["results"][0]
    real_single = load_sample("06-query-demo-params")["body"]
    assert set(item) == set(real_item)
    assert set(single) == set(real_single)
    assert "visualizations" not in item and item["retrieved_at"] and item["runtime"] is not None
    assert single["visualizations"][0]["type"] == "TABLE" and "retrieved_at" not in single
    assert single["latest_query_data_id"] == item["latest_query_data_id"] is not None


@pytest.mark.parametrize(
    "sample", ["06-query-demo-params", "06-query-example-ranges-multi", "06-query-example-dropdown"]
)
def test_query_hash_and_is_safe_match_the_real_server(sqlite_lw, sample):
    real = load_sample(sample)["body"]
    qid = sqlite_lw.add_query(real["query"], 1, parameters=real["options"]["parameters"])
    ours = call(sqlite_lw, "GET", f"/api/queries/{qid}").json()
    assert ours["query_hash"] == real["query_hash"]
    assert ours["is_safe"] == real["is_safe"]


def test_create_is_a_draft_with_a_table_visualization(sqlite_lw):
    reply = call(
        sqlite_lw,
        "POST",
        "/api/queries",
        json={"data_source_id": 1, "query": "SELECT 2 AS y", "name": "made"},
    )
    assert reply.status_code == 200
    body = reply.json()
    assert body["is_draft"] is True and body["version"] == 1
    assert [v["name"] for v in body["visualizations"]] == ["Table"]
    assert body["api_key"] == sqlite_lw.query_key(body["id"])


@pytest.mark.parametrize("missing", ["data_source_id", "query"])
def test_create_without_mandatory_field_is_500(sqlite_lw, missing):
    body = {"data_source_id": 1, "query": "SELECT 1"}
    del body[missing]
    reply = call(sqlite_lw, "POST", "/api/queries", json=body)
    assert reply.status_code == 500
    assert reply.json() == {"message": "Internal Server Error"}


def test_edit_publish_version_conflict_and_archive(sqlite_lw):
    qid = sqlite_lw.add_query("SELECT 1 AS x", 1, published=False)
    edited = call(
        sqlite_lw,
        "POST",
        f"/api/queries/{qid}",
        json={"is_draft": False, "query": "SELECT 2 AS x", "version": 1},
    ).json()
    assert (edited["is_draft"], edited["version"], edited["query"]) == (False, 1, "SELECT 2 AS x")
    conflict = call(sqlite_lw, "POST", f"/api/queries/{qid}", json={"name": "n", "version": 2})
    assert conflict.status_code == 409
    archived = call(sqlite_lw, "DELETE", f"/api/queries/{qid}")
    assert (archived.status_code, archived.text) == (200, "null")
    assert call(sqlite_lw, "GET", f"/api/queries/{qid}").json()["is_archived"] is True
    assert call(sqlite_lw, "GET", "/api/queries").json()["count"] == 0
    assert call(sqlite_lw, "GET", "/api/queries/archive").json()["count"] == 1
    call(sqlite_lw, "POST", f"/api/queries/{qid}", json={"is_archived": False})
    assert call(sqlite_lw, "GET", "/api/queries").json()["count"] == 1


def test_other_users_cannot_edit_admin_queries(sqlite_lw):
    qid = sqlite_lw.add_query("SELECT 1 AS x", 1)
    other = sqlite_lw.add_user("other")
    reply = call(sqlite_lw, "POST", f"/api/queries/{qid}", other, json={"name": "mine"})
    assert reply.status_code == 403
    assert reply.json() == {"message": "You don't have permission to edit this resource."}


@pytest.mark.parametrize("path", ["/api/queries/abc", "/api/queries/abc/results"])
def test_non_numeric_query_id_is_500(sqlite_lw, path):
    assert call(sqlite_lw, "GET", path).status_code == 500


def test_unknown_query_is_404(sqlite_lw):
    assert call(sqlite_lw, "GET", "/api/queries/999").status_code == 404


def test_my_and_recent(sqlite_lw):
    mine = sqlite_lw.add_query("SELECT 1 AS x", 1, name="admin's")
    other_key = sqlite_lw.add_user("other")
    theirs = call(
        sqlite_lw,
        "POST",
        "/api/queries",
        other_key,
        json={"data_source_id": 1, "query": "SELECT 3", "name": "theirs"},
    ).json()["id"]
    my = call(sqlite_lw, "GET", "/api/queries/my").json()
    assert [q["id"] for q in my["results"]] == [mine]
    recent = call(sqlite_lw, "GET", "/api/queries/recent").json()
    assert isinstance(recent, list) and [q["id"] for q in recent] == [mine]  # the caller's own
    theirs_recent = call(sqlite_lw, "GET", "/api/queries/recent", other_key).json()
    assert [q["id"] for q in theirs_recent] == [theirs]
