"""The objects of the recorded server (tests/samples/) rebuilt on a ``LocalWatch``,
for the conformance suite (test_conformance.py).

Two data sources: ``demo-sqlite`` (untyped) and ``demo-postgres`` (the typed source, which
models PostgreSQL's runner), each with a ``demo`` table like the recorded one; the saved
queries the samples name, made from the samples' own bodies where they hold them (SQL,
parameter definitions), with equivalent SQLite SQL where the recorded SQL is PostgreSQL's; and
the "Demo Dashboard" with its recorded widgets. Everything is made with the server's own
helpers and routes, ids are whatever the local server hands out: replays look them up by name
here.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from _samples import load_sample
from local_watch_helpers import call, fill_demo_table

from watch_pandas.testing import LocalWatch

# The recorded PostgreSQL table, column for column with its declared types (sample 48's schema).
TYPED_DEMO = """
CREATE TABLE demo (id INTEGER, price DOUBLE PRECISION, amount NUMERIC, flag BOOLEAN, d DATE,
                   ts TIMESTAMP, tstz TIMESTAMPTZ, label TEXT, maybe_null INTEGER,
                   big_num NUMERIC, big_text TEXT, big_int BIGINT, tags JSONB);
"""
LABELS = ["comma, separated, value", 'has "double" quotes', "has 'single' quotes", "plain"]


def _typed_rows(n: int = 100) -> str:
    values = []
    for i in range(1, n + 1):
        day = dt.date(2024, 1, 1) + dt.timedelta(days=i)
        ts = f"{day} {8 + i % 12:02d}:30:{(15 + 2 * i) % 60:02d}"
        label = f"item {i}: {LABELS[i % len(LABELS)]}".replace("'", "''")
        tags = json.dumps({"i": i, "even": i % 2 == 0})
        maybe = "NULL" if i % 4 == 0 else str(i * 10)
        big = 9007199254740993 if i % 2 else 9223372036854775807
        price = round((79.19 - (i - 1) * 20.81) % 100, 2)
        values.append(
            f"({i}, {price}, {price}, {i % 3 == 0:d}, '{day}', '{ts}', '{ts}.123+00:00',"
            f" '{label}', {maybe}, 1.2345678901234569e+23, '123456789012345678901234', {big},"
            f" '{tags}')"
        )
    return "INSERT INTO demo VALUES " + ",\n".join(values) + ";"


@dataclass
class World:
    """The rebuilt server: ``ds`` and ``queries`` map the samples' names to local ids."""

    lw: LocalWatch
    ds: dict[str, int] = field(default_factory=dict)
    queries: dict[str, int] = field(default_factory=dict)
    dashboards: dict[str, int] = field(default_factory=dict)

    def query_key(self, name: str) -> str:
        return self.lw.query_key(self.queries[name])


def _saved(world: World, name: str, sample: str, ds: str, **changes: Any) -> int:
    """A saved query made from a recorded ``GET /api/queries/<id>`` body."""
    body = load_sample(sample)["body"]
    parameters = [dict(p) for p in body["options"].get("parameters", [])]
    for p in parameters:
        if "queryId" in p:
            p["queryId"] = world.queries[changes.pop("dropdown_source")]
    qid = world.lw.add_query(
        changes.pop("sql", body["query"]), world.ds[ds], name=name, parameters=parameters
    )
    world.queries[name] = qid
    return qid


def table_visualization(world: World, query: str) -> int:
    """The id of the "Table" every saved query gets when it is made."""
    body = call(world.lw, "GET", f"/api/queries/{world.queries[query]}").json()
    return int(next(v["id"] for v in body["visualizations"] if v["type"] == "TABLE"))


def recorded_table(world: World, recorded: dict[str, Any]) -> int:
    """The local counterpart of a widget's recorded "Table" visualization."""
    return table_visualization(world, recorded["query"]["name"])


def add_recorded_widgets(
    world: World,
    dashboard_id: int,
    sample: str,
    visualization: Callable[[World, dict[str, Any]], int] = recorded_table,
) -> None:
    """The widgets of a recorded dashboard (``GET /api/dashboards/<id>``), made in order over
    ``POST /api/widgets`` with their recorded ``options``, ``text`` and ``width``;
    ``visualization`` gives the local id of a widget's recorded visualization."""
    for widget in load_sample(sample)["body"]["widgets"]:
        recorded = widget.get("visualization")
        body = {
            "dashboard_id": dashboard_id,
            "visualization_id": visualization(world, recorded) if recorded else None,
            "options": widget["options"],
            "text": widget["text"],
            "width": widget["width"],
        }
        made = call(world.lw, "POST", "/api/widgets", json=body)
        assert made.status_code == 200, f"POST /api/widgets answered {made.status_code}"


def build(lw: LocalWatch) -> World:
    world = World(lw)
    world.ds["sqlite"] = lw.add_data_source("demo-sqlite")
    fill_demo_table(lw, world.ds["sqlite"], rows=59)  # to 2024-02-29, for sample 42's range
    world.ds["pg"] = lw.add_data_source("demo-postgres", typed=True)
    lw.execute_sql(world.ds["pg"], TYPED_DEMO + _typed_rows())

    plain_sql = load_sample("07-results-post-cached")["body"]["query_result"]["query"]
    world.queries["demo plain"] = lw.add_query(plain_sql, world.ds["sqlite"], name="demo plain")
    _saved(world, "demo params", "06-query-demo-params", "sqlite")
    params_sql = load_sample("06-query-demo-params")["body"]["query"]
    safe_sql = params_sql.replace("\n  AND label LIKE '%{{ label }}%'", "")
    safe_definitions = [
        p
        for p in load_sample("06-query-demo-params")["body"]["options"]["parameters"]
        if p["type"] != "text"
    ]
    world.queries["demo params safe"] = lw.add_query(
        safe_sql, world.ds["sqlite"], name="demo params safe", parameters=safe_definitions
    )
    typed_sql = load_sample("27-typed-pg-json")["body"]["query_result"]["query"]
    world.queries["demo pg typed"] = lw.add_query(typed_sql, world.ds["pg"], name="demo pg typed")
    _saved(world, "example ranges multi", "06-query-example-ranges-multi", "sqlite")
    world.queries["flag choices"] = lw.add_query(
        "SELECT DISTINCT flag FROM demo ORDER BY flag", world.ds["sqlite"], name="flag choices"
    )
    _saved(world, "example seconds", "06-query-example-seconds", "sqlite")
    # The PostgreSQL SQL of sample 73, in SQLite's words (no ``date '...'`` literal).
    world.queries["example daily prices"] = lw.add_query(
        "SELECT d AS day, sum(price) AS total_price, sum(amount) AS total_amount, count(*) AS n"
        " FROM demo WHERE d < '2024-04-01' GROUP BY d ORDER BY d",
        world.ds["pg"],
        name="example daily prices",
        parameters=[],  # made over the API, with an empty parameter list
    )
    world.queries["example monthly prices by region"] = lw.add_query(
        "SELECT substr(d, 1, 7) AS month, CASE id % 3 WHEN 0 THEN 'North' WHEN 1 THEN 'South'"
        " ELSE 'West' END AS region, sum(price) AS total_price, count(*) AS n FROM demo"
        " GROUP BY 1, 2 ORDER BY 1, 2",
        world.ds["pg"],
        name="example monthly prices by region",
        parameters=[],
    )
    # the two newest, as on the recorded server: one with parameters, then one without
    _saved(
        world,
        "example dropdown",
        "06-query-example-dropdown",
        "sqlite",
        dropdown_source="flag choices",
    )
    region_sql = load_sample("92-dropdown-values-name-value-columns")["note"].split("  --")[0]
    world.queries["example region choices"] = lw.add_query(
        region_sql, world.ds["pg"], name="example region choices"
    )
    for name in ("demo plain", "demo pg typed", "flag choices", "example daily prices"):
        lw.refresh_query(world.queries[name])
    lw.refresh_query(world.queries["example region choices"])
    lw.refresh_schemas()  # the recorded server had refreshed them on its schedule
    # made over the API with bare positions, not as the web UI saves widgets
    world.dashboards["demo"] = lw.add_dashboard("Demo Dashboard")
    add_recorded_widgets(world, world.dashboards["demo"], "35-dashboard-by-id")
    return world
