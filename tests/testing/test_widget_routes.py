"""Widget routes: create (text and visualization widgets), edit, delete, and dashboards that
hold them, compared with the recorded exchanges 67-71 (docs/protocol.md#dashboards)."""

from __future__ import annotations

import pytest
from _samples import load_sample
from local_watch_helpers import call

from watch_pandas.testing import LocalWatch


@pytest.fixture
def board(sqlite_lw: LocalWatch):
    """A published dashboard with no widgets, and a query with three parameters."""
    lw = sqlite_lw
    qid = lw.add_query(
        "SELECT id, price FROM demo WHERE d >= '{{ start_date }}' AND price >= {{ min_price }}"
        " AND flag = {{ flag }}",
        1,
        name="demo params safe",
        parameters=[
            {"name": "start_date", "type": "date", "title": "Start date", "value": "2024-03-01"},
            {"name": "min_price", "type": "number", "title": "Min price", "value": 10},
            {"name": "flag", "type": "enum", "title": "Flag", "value": "1", "enumOptions": "0\n1"},
        ],
    )
    did = lw.add_dashboard("example prices overview")
    return lw, did, qid


def _vis_id(lw: LocalWatch, qid: int) -> int:
    return call(lw, "GET", f"/api/queries/{qid}").json()["visualizations"][0]["id"]


def _request(name: str, dashboard_id: int, visualization_id: int | None = None) -> dict:
    """The recorded request body, pointed at our dashboard (and visualization)."""
    body = load_sample(name)["request"]["json"]
    body["dashboard_id"] = dashboard_id
    if visualization_id is not None:
        body["visualization_id"] = visualization_id
    return body


def test_a_text_widget_is_created_as_recorded_without_a_visualization_key(board):
    lw, did, _ = board
    sample = load_sample("67-widget-create-text")
    reply = call(lw, "POST", "/api/widgets", json=_request("67-widget-create-text", did))
    assert reply.status_code == sample["status"]
    assert reply.headers["Content-Type"] == sample["headers"]["Content-Type"]
    body = reply.json()
    assert set(body) == set(sample["body"]) and "visualization" not in body
    for key in ("width", "options", "text"):
        assert body[key] == sample["body"][key]
    assert body["dashboard_id"] == did and isinstance(body["id"], int)


def test_a_visualization_widget_embeds_the_visualization_and_its_full_query(board):
    lw, did, qid = board
    sample = load_sample("68-widget-create-visualization")["body"]
    vis = _vis_id(lw, qid)
    body = call(
        lw, "POST", "/api/widgets", json=_request("68-widget-create-visualization", did, vis)
    ).json()
    assert set(body) == set(sample)
    assert set(body["visualization"]) == set(sample["visualization"])
    assert set(body["visualization"]["query"]) == set(sample["visualization"]["query"])
    assert body["visualization"]["id"] == vis and body["visualization"]["query"]["id"] == qid
    assert body["options"] == sample["options"] and body["text"] == ""


def test_parameter_mappings_and_positions_are_kept_and_served_with_the_dashboard(board):
    lw, did, qid = board
    text = call(lw, "POST", "/api/widgets", json=_request("67-widget-create-text", did)).json()
    mapped = call(
        lw,
        "POST",
        "/api/widgets",
        json=_request("69-widget-create-parameter-mappings", did, _vis_id(lw, qid)),
    ).json()
    recorded = load_sample("69-widget-create-parameter-mappings")["body"]["options"]
    assert mapped["options"] == recorded

    by_id = call(lw, "GET", f"/api/dashboards/{did}").json()
    by_slug = call(lw, "GET", "/api/dashboards/example-prices-overview?legacy").json()
    assert by_id == by_slug
    real = load_sample("70-dashboard-with-widgets-by-id")["body"]
    assert set(by_id) == set(real)
    assert [w["id"] for w in by_id["widgets"]] == [text["id"], mapped["id"]]
    text_widget, vis_widget = by_id["widgets"]
    real_text, real_vis = real["widgets"][0], real["widgets"][-1]
    assert set(text_widget) == set(real_text) and "parameterMappings" not in text_widget["options"]
    assert set(vis_widget) == set(real_vis)
    assert vis_widget["options"]["position"] == real_vis["options"]["position"]
    assert vis_widget["options"]["parameterMappings"] == real_vis["options"]["parameterMappings"]
    # adding widgets leaves the dashboard's own version alone (as recorded: widgets created
    # after the dashboard's last edit, version unchanged)
    assert by_id["version"] == 1


def test_a_widget_edit_replaces_text_and_options_and_delete_removes_it(board):
    lw, did, _ = board
    made = call(lw, "POST", "/api/widgets", json=_request("67-widget-create-text", did)).json()
    options = {"position": {"col": 2, "row": 4, "sizeX": 2, "sizeY": 2}}
    edited = call(
        lw, "POST", f"/api/widgets/{made['id']}", json={"text": "# New", "options": options}
    )
    assert edited.status_code == 200
    assert (edited.json()["text"], edited.json()["options"]) == ("# New", options)
    widgets = call(lw, "GET", f"/api/dashboards/{did}").json()["widgets"]
    assert [(w["text"], w["options"]) for w in widgets] == [("# New", options)]

    gone = call(lw, "DELETE", f"/api/widgets/{made['id']}")
    assert (gone.status_code, gone.json()) == (200, None)
    assert call(lw, "GET", f"/api/dashboards/{did}").json()["widgets"] == []


def test_widget_routes_refuse_as_the_real_server_does(board):
    lw, did, qid = board
    stranger = lw.add_user("stranger")
    text = _request("67-widget-create-text", did)
    refused = call(lw, "POST", "/api/widgets", stranger, json=text)
    assert refused.status_code == 403
    made = call(lw, "POST", "/api/widgets", json=text).json()
    assert call(lw, "DELETE", f"/api/widgets/{made['id']}", stranger).status_code == 403
    # unknown dashboard, widget or visualization: a lookup without a 404 mapping → 500
    assert call(lw, "POST", "/api/widgets", json={**text, "dashboard_id": 999}).status_code == 500
    unknown_vis = {**text, "visualization_id": 999}
    assert call(lw, "POST", "/api/widgets", json=unknown_vis).status_code == 500
    assert call(lw, "DELETE", "/api/widgets/999").status_code == 500
    assert call(lw, "POST", "/api/widgets/999", json={"text": "", "options": {}}).status_code == 500
    assert [w["id"] for w in call(lw, "GET", f"/api/dashboards/{did}").json()["widgets"]] == [
        made["id"]
    ]


def test_the_demo_report_dashboard_has_text_widgets_positions_and_every_mapping_kind(
    local_watch_demo,
):
    lw = local_watch_demo
    did = lw.demo.dashboards["defi_report"]
    board = call(lw, "GET", f"/api/dashboards/{lw.demo.dashboard_slugs['defi_report']}?legacy")
    widgets = board.json()["widgets"]
    assert board.json()["id"] == did
    texts = [w for w in widgets if "visualization" not in w]
    assert len(texts) == 2 and all(w["text"].strip() for w in texts)
    recorded = load_sample("70-dashboard-with-widgets-by-id")["body"]["widgets"][0]
    for widget in widgets:
        assert set(widget["options"]["position"]) == set(recorded["options"]["position"])
    kinds = {
        mapping["type"]
        for w in widgets
        for mapping in (w["options"].get("parameterMappings") or {}).values()
    }
    assert kinds == {"dashboard-level", "static-value", "widget-level"}
    # the positions tile the 6-column grid without overlapping
    taken: set[tuple[int, int]] = set()
    for widget in widgets:
        p = widget["options"]["position"]
        assert p["col"] + p["sizeX"] <= 6
        cells = {(p["row"] + r, p["col"] + c) for r in range(p["sizeY"]) for c in range(p["sizeX"])}
        assert not cells & taken
        taken |= cells
