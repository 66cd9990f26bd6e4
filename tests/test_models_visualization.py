"""The Visualization model: parsed from a query's ``visualizations`` array, from a widget's
embedded visualization and from the create/edit answers (samples 54-70)."""

from __future__ import annotations

from _samples import sample_body

from watch_pandas.models import Dashboard, Query, Visualization


def test_a_query_carries_its_visualizations_in_the_servers_order():
    body = sample_body("63-query-with-visualizations-daily")
    query = Query.from_json(body)
    ids = [v["id"] for v in body["visualizations"]]
    assert [v.id for v in query.visualizations] == ids  # not sorted by id
    assert ids != sorted(ids)
    line = next(v for v in query.visualizations if v.name == "example line prices")
    assert line.type == "CHART"
    assert line.query_id == body["id"]
    assert line.description == "Daily price and amount totals"
    assert line.options["columnMapping"] == {"day": "x", "total_price": "y", "total_amount": "y"}
    table = query.visualizations[0]
    assert (table.type, table.name, table.options) == ("TABLE", "Table", {})


def test_a_create_answer_parses_with_the_query_id_given():
    body = sample_body("59-viz-create-counter")
    viz = Visualization.from_json(body, query_id=12)
    assert (viz.id, viz.type, viz.query_id) == (30, "COUNTER", 12)
    assert viz.raw is body
    assert Visualization.from_json(body).query_id is None  # the answer does not name it


def test_a_widgets_visualization_takes_its_query_id_from_the_embedded_query():
    body = sample_body("70-dashboard-with-widgets-by-id")
    dashboard = Dashboard.from_json(body)
    drawn = [w for w in dashboard.widgets if w.raw.get("visualization")]
    assert drawn
    for widget in drawn:
        raw = widget.raw["visualization"]
        assert widget.visualization == Visualization.from_json(raw)
        assert widget.visualization is not None
        assert widget.visualization.query_id == raw["query"]["id"]
    texts = [w for w in dashboard.widgets if not w.raw.get("visualization")]
    assert texts and all(w.visualization is None for w in texts)
