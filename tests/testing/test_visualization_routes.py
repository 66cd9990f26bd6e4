"""Visualization routes of the local server: create, edit, delete, and their place in
``GET /api/queries/<id>`` (samples 54-66 show the real server's shapes)."""

from __future__ import annotations

import pytest
from _samples import load_sample
from local_watch_helpers import call

from watch_pandas.testing import LocalWatch


@pytest.fixture
def query_id(sqlite_lw: LocalWatch) -> int:
    return sqlite_lw.add_query("SELECT id, price FROM demo", 1, name="prices")


def create(lw: LocalWatch, query_id: int, sample: str = "54-viz-create-chart-line", key="admin"):
    body = dict(load_sample(sample)["request"]["json"], query_id=query_id)
    return call(lw, "POST", "/api/visualizations", key, json=body)


def visualizations(lw: LocalWatch, query_id: int) -> list[dict]:
    return call(lw, "GET", f"/api/queries/{query_id}").json()["visualizations"]


def test_a_new_query_has_its_automatic_table(sqlite_lw, query_id):
    (table,) = visualizations(sqlite_lw, query_id)
    assert (table["type"], table["name"], table["options"]) == ("TABLE", "Table", {})


def test_create_answers_the_visualization_and_the_query_embeds_it(sqlite_lw, query_id):
    sent = load_sample("54-viz-create-chart-line")
    reply = create(sqlite_lw, query_id)
    assert reply.status_code == 200
    body = reply.json()
    assert set(body) == set(sent["body"])  # no query, no query_id
    assert body["options"] == sent["request"]["json"]["options"]
    assert (body["type"], body["name"]) == ("CHART", "example line prices")
    listed = visualizations(sqlite_lw, query_id)
    assert [v["id"] for v in listed][-1] == body["id"]
    assert listed[-1] == body


def test_an_edit_changes_name_description_options_and_keeps_the_query(sqlite_lw, query_id):
    other = sqlite_lw.add_query("SELECT 1 AS one", 1, name="other")
    vid = create(sqlite_lw, query_id).json()["id"]
    edit = dict(load_sample("65-viz-edit")["request"]["json"], query_id=other, id=999)
    reply = call(sqlite_lw, "POST", f"/api/visualizations/{vid}", json=edit)
    assert reply.status_code == 200
    body = reply.json()
    assert body["id"] == vid
    assert (body["name"], body["description"]) == (edit["name"], "edited")
    assert body["options"] == edit["options"]
    assert body["type"] == "CHART"
    assert vid in [v["id"] for v in visualizations(sqlite_lw, query_id)]
    assert vid not in [v["id"] for v in visualizations(sqlite_lw, other)]


def test_the_query_lists_visualizations_in_storage_order_not_by_id(sqlite_lw, query_id):
    first = create(sqlite_lw, query_id).json()["id"]
    second = create(sqlite_lw, query_id, "59-viz-create-counter").json()["id"]
    call(sqlite_lw, "POST", f"/api/visualizations/{first}", json={"name": "renamed"})
    ids = [v["id"] for v in visualizations(sqlite_lw, query_id)]
    assert ids[-2:] == [second, first]  # an edited row moves to the end (docs/protocol.md)
    assert ids != sorted(ids)


def test_delete_answers_null_and_removes_it(sqlite_lw, query_id):
    vid = create(sqlite_lw, query_id).json()["id"]
    reply = call(sqlite_lw, "DELETE", f"/api/visualizations/{vid}")
    assert (reply.status_code, reply.headers["Content-Type"]) == (200, "application/json")
    assert reply.json() is None
    assert vid not in [v["id"] for v in visualizations(sqlite_lw, query_id)]
    assert call(sqlite_lw, "DELETE", f"/api/visualizations/{vid}").status_code == 404


def test_unknown_query_or_visualization_is_404(sqlite_lw, query_id):
    assert create(sqlite_lw, 9999).status_code == 404
    assert (
        call(sqlite_lw, "POST", "/api/visualizations/9999", json={"name": "x"}).status_code == 404
    )


def test_only_editors_of_the_query_may_change_its_visualizations(sqlite_lw, query_id):
    viewer = sqlite_lw.add_user("viewer")
    assert create(sqlite_lw, query_id, key=viewer).status_code == 403
    vid = create(sqlite_lw, query_id).json()["id"]
    for method in ("POST", "DELETE"):
        reply = call(sqlite_lw, method, f"/api/visualizations/{vid}", viewer, json={"name": "x"})
        assert reply.status_code == 403
    query_key = sqlite_lw.query_key(query_id)
    assert create(sqlite_lw, query_id, key=query_key).status_code == 404  # not a user


def test_add_visualization_saves_one_from_python(sqlite_lw, query_id):
    options = load_sample("59-viz-create-counter")["request"]["json"]["options"]
    vid = sqlite_lw.add_visualization(query_id, "COUNTER", "latest", options)
    (counter,) = [v for v in visualizations(sqlite_lw, query_id) if v["id"] == vid]
    assert (counter["type"], counter["name"], counter["options"]) == ("COUNTER", "latest", options)
