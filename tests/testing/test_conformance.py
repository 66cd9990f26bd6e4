"""The conformance suite: every recorded real-server exchange (tests/samples/) replayed against
the local server with equivalent objects (conformance_world.py), comparing what a client
depends on: status, content type, disposition, cache and redirect headers, the JSON shape (key
sets, value types and list lengths, recursively), error texts, the job's state, schema names,
and CSV formatting. Ids, timestamps and row values are not compared
(docs/testing.md#how-faithful-it-is).

``CASES`` has one entry per sample: a ``Replay`` (the requests that reproduce it) or a
``Differs`` (a difference kept on purpose, listed with its reason in docs/testing.md). A
new route comes with its recorded sample here.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from _samples import SAMPLES_DIR, load_sample
from conformance_world import World, add_recorded_widgets, build, table_visualization
from local_watch_helpers import wait_job

from watch_pandas.testing import LocalWatch

DOCS = Path(__file__).resolve().parents[2] / "docs" / "testing.md"
# The sample cutter's own key (how many rows a cut result had), not the server's.
RECORDING_ONLY = {"rows_total"}
HEADERS = ("Content-Type", "Cache-Control", "Location")


@dataclass(frozen=True)
class Replay:
    """``run(world)`` makes the requests and returns the answer to compare. ``columns``:
    the replay reproduces the recorded SELECT, so column types and row shapes are compared
    too. ``lengths``: lists hold as many items as the recorded ones (rows aside)."""

    run: Callable[[World], requests.Response]
    columns: bool = True
    lengths: bool = True


@dataclass(frozen=True)
class Differs:
    """Not replayed: the reason is listed in docs/testing.md."""

    reason: str


# -- requests ------------------------------------------------------------------------------
def send(
    world: World,
    method: str,
    path: str,
    key: str | None = "user",
    body: Any = None,
    *,
    in_url: bool = False,
) -> requests.Response:
    """``key``: "user" (the admin), None, "bad", or a query's name (its own key); ``in_url``
    sends it as ``?api_key=`` instead of the header."""
    lw = world.lw
    fixed = {"user": lw.admin_key, None: None, "bad": "0" * 40}
    secret = fixed[key] if key in fixed else world.query_key(str(key))
    headers, params = {}, {}
    if secret and in_url:
        params["api_key"] = secret
    elif secret:
        headers["Authorization"] = f"Key {secret}"
    return requests.request(
        method,
        lw.url + path,
        headers=headers,
        params=params,
        json=body,
        timeout=30,
        allow_redirects=False,
    )


def adhoc_job(world: World, sql: str, ds: str = "sqlite") -> dict[str, Any]:
    reply = send(
        world,
        "POST",
        "/api/query_results",
        body={"query": sql, "data_source_id": world.ds[ds], "max_age": 0},
    )
    return reply.json()["job"]


def result_id(world: World, sql: str, ds: str = "pg") -> int:
    job = wait_job(world.lw, adhoc_job(world, sql, ds)["id"])
    assert job["status"] == 3, job
    return int(job["query_result_id"])


def get_result(world: World, sql: str, ext: str, ds: str = "pg") -> requests.Response:
    return send(world, "GET", f"/api/query_results/{result_id(world, sql, ds)}.{ext}")


def query_path(world: World, name: str, tail: str = "") -> str:
    return f"/api/queries/{world.queries[name]}{tail}"


def saved_job(world: World, name: str, body: dict[str, Any], key: str = "user") -> Any:
    return send(world, "POST", query_path(world, name, "/results"), key, body).json()["job"]


def job_in_state(world: World, status: int) -> requests.Response:
    """A job seen while queued (1) or running (2): the server holds each state for a while."""
    world.lw.execution_delay = 0.5
    try:
        job = adhoc_job(world, f"SELECT {status} AS state, {time.monotonic_ns()} AS t")
        for _ in range(500):
            reply = send(world, "GET", f"/api/jobs/{job['id']}")
            if reply.json()["job"]["status"] == status:
                return reply
            time.sleep(0.01)
    finally:
        world.lw.execution_delay = 0.0
        world.lw.wait_for_jobs()
    raise AssertionError(f"job {job['id']} never reached status {status}")


def cancelled(world: World, *, read_after: bool) -> requests.Response:
    world.lw.hold_jobs()
    try:
        job = adhoc_job(world, f"SELECT 'cancel me' AS x, {time.monotonic_ns()} AS t")
        reply = send(world, "DELETE", f"/api/jobs/{job['id']}")
        return send(world, "GET", f"/api/jobs/{job['id']}") if read_after else reply
    finally:
        world.lw.release_jobs()


def failed_job(world: World, sql: str, ds: str = "sqlite") -> requests.Response:
    job = wait_job(world.lw, adhoc_job(world, sql, ds)["id"])
    return send(world, "GET", f"/api/jobs/{job['id']}")


SAFE_VALUES = {"start_date": "2024-01-05", "min_price": 20, "flag": "0"}


def query_key_job(world: World) -> dict[str, Any]:
    values = {**SAFE_VALUES, "min_price": time.monotonic_ns() % 50}
    return saved_job(
        world, "demo params safe", {"max_age": 0, "parameters": values}, "demo params safe"
    )


def finished_query_key_job(world: World) -> str:
    """The id of a query-key job that has finished (as the recorded one had)."""
    return str(wait_job(world.lw, query_key_job(world)["id"])["id"])


def query_key_repost(world: World) -> requests.Response:
    body = {"max_age": 0, "parameters": SAFE_VALUES}
    job = saved_job(world, "demo params safe", body, "demo params safe")
    if "id" in job:
        wait_job(world.lw, job["id"])
    return send(
        world,
        "POST",
        query_path(world, "demo params safe", "/results"),
        "demo params safe",
        {"parameters": SAFE_VALUES},
    )


def non_default_result(world: World) -> int:
    """A result of the safe query with other than its default values (hash differs)."""
    job = saved_job(world, "demo params safe", {"max_age": 0, "parameters": SAFE_VALUES})
    return int(wait_job(world.lw, job["id"])["query_result_id"])


def latest_result(world: World, name: str) -> int:
    return int(send(world, "GET", query_path(world, name)).json()["latest_query_data_id"])


def schema(world: World, ds: str, args: str = "") -> requests.Response:
    return send(world, "GET", f"/api/data_sources/{world.ds[ds]}/schema{args}")


def schema_job(world: World, ds: str) -> requests.Response:
    job = schema(world, ds, "?refresh=true").json()["job"]
    return send(world, "GET", f"/api/jobs/{wait_job(world.lw, job['id'])['id']}")


def new_visualization(world: World, sample: str, query: str) -> requests.Response:
    body = dict(load_sample(sample)["request"]["json"])
    body["query_id"] = world.queries[query]
    return send(world, "POST", "/api/visualizations", body=body)


def visualization_id(world: World, query: str) -> int:
    reply = new_visualization(world, "54-viz-create-chart-line", query)
    return int(reply.json()["id"])


def viz_edit(world: World) -> requests.Response:
    vid = visualization_id(world, "example daily prices")
    body = load_sample("65-viz-edit")["request"]["json"]
    return send(world, "POST", f"/api/visualizations/{vid}", body=body)


def viz_delete(world: World) -> requests.Response:
    vid = visualization_id(world, "example daily prices")
    return send(world, "DELETE", f"/api/visualizations/{vid}")


def query_with_visualizations(world: World, query: str, samples: tuple[str, ...]) -> Any:
    # other replays add visualizations to the same query: start again from its automatic Table
    automatic, *others = send(world, "GET", query_path(world, query)).json()["visualizations"]
    for vis in others:
        send(world, "DELETE", f"/api/visualizations/{vis['id']}")
    for sample in samples:
        made = new_visualization(world, sample, query)
        assert made.status_code == 200, f"POST /api/visualizations answered {made.status_code}"
    return send(world, "GET", query_path(world, query))


def new_widget(world: World, sample: str, visualization: int | None) -> requests.Response:
    body = dict(load_sample(sample)["request"]["json"])
    if "scratch" not in world.dashboards:  # made when needed: sample 34 lists one dashboard
        world.dashboards["scratch"] = world.lw.add_dashboard("Widget scratch")
    body["dashboard_id"] = world.dashboards["scratch"]
    body["visualization_id"] = visualization
    return send(world, "POST", "/api/widgets", body=body)


VIZ_SAMPLES = (
    "54-viz-create-chart-line",
    "55-viz-create-chart-column-stacked",
    "56-viz-create-chart-area",
    "57-viz-create-chart-pie",
    "58-viz-create-chart-scatter",
    "59-viz-create-counter",
    "60-viz-create-pivot",
    "61-viz-create-table-columns",
    "62-viz-create-details",
)


def recorded_visualization(world: World, recorded: dict[str, Any]) -> int:
    """A recorded widget's visualization made anew: the query's own "Table", or the one a
    visualization sample (54-62) created under that name."""
    if recorded["type"] == "TABLE" and recorded["name"] == "Table":
        return table_visualization(world, recorded["query"]["name"])
    sample = next(
        s for s in VIZ_SAMPLES if load_sample(s)["request"]["json"]["name"] == recorded["name"]
    )
    reply = new_visualization(world, sample, recorded["query"]["name"])
    assert reply.status_code == 200, f"POST /api/visualizations answered {reply.status_code}"
    return int(reply.json()["id"])


def overview_dashboard(world: World, *, legacy: bool) -> requests.Response:
    """The recorded "example prices overview" (sample 70), rebuilt once, widget by widget."""
    if "overview" not in world.dashboards:
        did = world.lw.add_dashboard("example prices overview")
        sample = "70-dashboard-with-widgets-by-id"
        add_recorded_widgets(world, did, sample, recorded_visualization)
        world.dashboards["overview"] = did
    did = world.dashboards["overview"]
    if legacy:
        slug = send(world, "GET", f"/api/dashboards/{did}").json()["slug"]
        return send(world, "GET", f"/api/dashboards/{slug}?legacy")
    return send(world, "GET", f"/api/dashboards/{did}")


def recorded_sql(sample: str) -> str:
    return load_sample(sample)["note"].split("  --")[0]


# -- what each sample needs ----------------------------------------------------------------
DEMO_PG_COLUMNS = "SELECT id, price, amount, flag, d, ts, tstz, label, big_num, tags FROM demo"
# Sample 32's PostgreSQL values, each declared with its PostgreSQL type (docs/testing.md, "The
# typed source"); NaN and Infinity are sent as null, so they are nulls here.
EDGE_SQL = (
    'SELECT NULL AS "nan [FLOAT8]", NULL AS "inf [FLOAT8]", 1.1 AS "num_trailing0 [NUMERIC]",'
    ' 1.2345678901234569e+23 AS "huge_num [NUMERIC]", \'23:56:51\' AS "t [TIME]",'
    ' 93600 AS "iv [INTERVAL]", \'010a79f0-0000-4000-8000-000000000000\' AS "u [UUID]",'
    " '[1, 2, 3]' AS \"arr [INTEGER[]]\", x'00ff' AS \"by [BYTEA]\", tstz AS tstz_offset,"
    ' d AS maxdate, ts AS ts_micro, NULL AS "null_date [DATE]", NULL AS "null_bool [BOOLEAN]",'
    ' flag AS t_bool, \'{"a": [1, 2]}\' AS "js [JSONB]", big_int AS int64max FROM demo'
    " WHERE id = 1"
)
# Sample 81's PostgreSQL values the typed source's way: numerics as SQLite floats, an infinite
# float8 (sent as null), arrays and JSON as JSON text, intervals as seconds, bytea as blobs.
MORE_TYPES_SQL = (
    'SELECT -9e999 AS "neg_inf [FLOAT8]", 18446744073709551616 AS "two_pow_64 [NUMERIC]",'
    ' -1180591620717411303424 AS "neg_two_pow_70 [NUMERIC]", 1e-30 AS "tiny [NUMERIC]",'
    " '[1, null, 3]' AS \"int_arr_null [INTEGER[]]\","
    " '[[1, 2], [3, 4]]' AS \"int_arr_2d [INTEGER[][]]\","
    """ '["a", "b,c", "d\\"e"]' AS "text_arr [TEXT[]]", '[1.5, 2.5]' AS "float_arr [FLOAT8[]]","""
    """ '[1, "x", null, {"k": 1.5}]' AS "jsonb_arr [JSONB]", '"str"' AS "jsonb_str [JSONB]","""
    """ 'null' AS "jsonb_null [JSONB]", '{"b": 1, "a": 2}' AS "json_obj [JSON]","""
    ' -244493.5 AS "iv_neg [INTERVAL]", 36720000 AS "iv_months [INTERVAL]",'
    " '00:00:00.000' AS \"t_micro [TIME]\", x'deadbeef' AS \"by4 [BYTEA]\","
    " x'' AS \"by_empty [BYTEA]\", 'b3c1f2a4-0000-4000-8000-00000000000a' AS \"u [UUID]\","
    " '$12.50' AS \"money [MONEY]\", '192.168.0.1/24' AS \"ip [INET]\","
    ' \'(1.5,2)\' AS "pt [POINT]", 32767 AS "i16 [SMALLINT]", 3.4028235e38 AS "f32_max [FLOAT4]"'
)

CASES: dict[str, Replay | Differs] = {
    "01-auth-bad-key": Replay(lambda w: send(w, "GET", "/api/queries", "bad")),
    "02-auth-no-key": Replay(lambda w: send(w, "GET", "/api/queries", None)),
    "03-queries-list": Replay(lambda w: send(w, "GET", "/api/queries?page_size=2")),
    "04-queries-page-out-of-range": Replay(lambda w: send(w, "GET", "/api/queries?page=99")),
    "05-queries-page-size-too-big": Replay(lambda w: send(w, "GET", "/api/queries?page_size=500")),
    "06-query-demo-params": Replay(lambda w: send(w, "GET", query_path(w, "demo params"))),
    "06-query-example-dropdown": Replay(
        lambda w: send(w, "GET", query_path(w, "example dropdown"))
    ),
    "06-query-example-ranges-multi": Replay(
        lambda w: send(w, "GET", query_path(w, "example ranges multi"))
    ),
    "06-query-example-seconds": Replay(lambda w: send(w, "GET", query_path(w, "example seconds"))),
    "07-results-post-cached": Replay(
        lambda w: send(w, "POST", query_path(w, "demo plain", "/results"), body={})
    ),
    "08-results-post-max-age-0": Replay(
        lambda w: send(w, "POST", query_path(w, "demo plain", "/results"), body={"max_age": 0})
    ),
    "09-job-queued-or-running": Replay(lambda w: job_in_state(w, 1)),
    "10-job-finished": Replay(
        lambda w: send(
            w, "GET", f"/api/jobs/{wait_job(w.lw, adhoc_job(w, 'SELECT 10')['id'])['id']}"
        )
    ),
    "11-adhoc-post": Replay(
        lambda w: send(
            w,
            "POST",
            "/api/query_results",
            body={"query": "SELEC nonsense FROM", "data_source_id": w.ds["sqlite"], "max_age": 0},
        )
    ),
    "12-job-failed": Replay(lambda w: failed_job(w, "SELEC nonsense FROM")),
    "13-job-running": Replay(lambda w: job_in_state(w, 2)),
    "14-job-cancel": Replay(lambda w: cancelled(w, read_after=False)),
    "15-job-cancelled": Replay(lambda w: cancelled(w, read_after=True)),
    "16-job-unknown": Replay(lambda w: send(w, "GET", "/api/jobs/no-such-job")),
    "17-adhoc-no-data-source": Replay(
        lambda w: send(w, "POST", "/api/query_results", body={"query": "select 1", "max_age": 0})
    ),
    "18-params-missing": Replay(
        lambda w: send(w, "POST", query_path(w, "demo params", "/results"), body={"max_age": 0})
    ),
    "19-params-incompatible": Replay(
        lambda w: send(
            w,
            "POST",
            query_path(w, "demo params", "/results"),
            body=load_sample("19-params-incompatible")["request"]["json"],
        )
    ),
    "20-query-key-unsafe": Replay(
        lambda w: send(
            w,
            "POST",
            query_path(w, "demo params", "/results"),
            "demo params",
            load_sample("20-query-key-unsafe")["request"]["json"],
        )
    ),
    "21-query-key-post": Replay(
        lambda w: send(
            w,
            "POST",
            query_path(w, "demo params safe", "/results"),
            "demo params safe",
            {"max_age": 0, "parameters": {**SAFE_VALUES, "min_price": time.monotonic_ns() % 50}},
        )
    ),
    "22-query-key-global-job-route": Replay(
        lambda w: send(w, "GET", f"/api/jobs/{query_key_job(w)['id']}", "demo params safe")
    ),
    "23-query-key-query-job-route": Replay(
        lambda w: send(
            w,
            "GET",
            query_path(w, "demo params safe", f"/jobs/{finished_query_key_job(w)}"),
            "demo params safe",
        )
    ),
    "24-query-key-result-by-id-hash-mismatch": Replay(
        lambda w: send(
            w,
            "GET",
            query_path(w, "demo params safe", f"/results/{non_default_result(w)}.json"),
            "demo params safe",
        )
    ),
    "25-query-key-repost-trimmed": Replay(query_key_repost),
    "26-query-key-query-results-route": Replay(
        lambda w: send(
            w, "GET", f"/api/query_results/{non_default_result(w)}.json", "demo params safe"
        )
    ),
    "27-typed-pg-json": Replay(
        lambda w: send(w, "GET", query_path(w, "demo pg typed", "/results.json"))
    ),
    "28-typed-pg-csv": Replay(
        lambda w: send(w, "GET", query_path(w, "demo pg typed", "/results.csv"))
    ),
    "29-typed-pg-tsv": Replay(
        lambda w: send(w, "GET", query_path(w, "demo pg typed", "/results.tsv"))
    ),
    "30-untyped-sqlite-json": Replay(
        lambda w: send(w, "GET", query_path(w, "demo plain", "/results.json"))
    ),
    "31-untyped-sqlite-csv": Replay(
        lambda w: send(w, "GET", query_path(w, "demo plain", "/results.csv"))
    ),
    "32-pg-edge-cases-json": Replay(lambda w: get_result(w, EDGE_SQL, "json")),
    "33-pg-edge-cases-csv": Replay(lambda w: get_result(w, EDGE_SQL, "csv")),
    "34-dashboards-list": Replay(lambda w: send(w, "GET", "/api/dashboards")),
    "35-dashboard-by-id": Replay(
        lambda w: send(w, "GET", f"/api/dashboards/{w.dashboards['demo']}")
    ),
    "36-dashboard-by-slug-without-legacy": Replay(
        lambda w: send(w, "GET", "/api/dashboards/demo-dashboard")
    ),
    "37-dashboard-by-slug-legacy": Replay(
        lambda w: send(w, "GET", "/api/dashboards/demo-dashboard?legacy")
    ),
    # the recorded server had a third, Python data source (43, 44, 52, 53)
    "38-data-sources": Replay(lambda w: send(w, "GET", "/api/data_sources"), lengths=False),
    "39-config": Replay(lambda w: send(w, "GET", "/api/config", None)),
    "40-session": Replay(lambda w: send(w, "GET", "/api/session")),
    "41-search-redirect": Replay(lambda w: send(w, "GET", "/api/queries/search?q=demo")),
    "42-range-and-multi-result": Replay(
        lambda w: get_result(
            w,
            load_sample("42-range-and-multi-result")["body"]["query_result"]["query"],
            "json",
            "sqlite",
        )
    ),
    "43-python-source-uint256-json": Differs("no Python data source"),
    "44-python-source-uint256-csv": Differs("no Python data source"),
    "45-schema-sqlite-first-get": Replay(lambda w: schema(w, "sqlite")),
    "46-schema-sqlite-refresh-job": Replay(lambda w: schema(w, "sqlite", "?refresh=true")),
    "47-schema-sqlite-job-finished": Replay(lambda w: schema_job(w, "sqlite")),
    "48-schema-pg-first-get": Replay(lambda w: schema(w, "pg")),
    "49-schema-pg-refresh-job": Replay(lambda w: schema(w, "pg", "?refresh=true")),
    "50-schema-pg-job-finished": Replay(lambda w: schema_job(w, "pg")),
    "51-schema-refresh-false-still-refreshes": Replay(lambda w: schema(w, "pg", "?refresh=false")),
    "52-schema-python-source-job": Differs("no Python data source"),
    "53-schema-python-source-job-failed": Differs("no Python data source"),
    **{
        sample: Replay(lambda w, s=sample: new_visualization(w, s, "example daily prices"))
        for sample in VIZ_SAMPLES
    },
    "63-query-with-visualizations-daily": Replay(
        lambda w: query_with_visualizations(
            w,
            "example daily prices",
            (  # the recorded list's order (not by id)
                "62-viz-create-details",
                "56-viz-create-chart-area",
                "58-viz-create-chart-scatter",
                "59-viz-create-counter",
                "61-viz-create-table-columns",
                "54-viz-create-chart-line",
            ),
        ),
    ),
    "64-query-with-visualizations-by-region": Replay(
        lambda w: query_with_visualizations(
            w,
            "example monthly prices by region",
            (
                "55-viz-create-chart-column-stacked",
                "57-viz-create-chart-pie",
                "60-viz-create-pivot",
            ),
        ),
    ),
    "65-viz-edit": Replay(viz_edit),
    "66-viz-delete": Replay(viz_delete),
    "67-widget-create-text": Replay(lambda w: new_widget(w, "67-widget-create-text", None)),
    "68-widget-create-visualization": Replay(
        lambda w: new_widget(
            w,
            "68-widget-create-visualization",
            recorded_visualization(
                w, load_sample("68-widget-create-visualization")["body"]["visualization"]
            ),
        ),
    ),
    "69-widget-create-parameter-mappings": Replay(
        lambda w: new_widget(
            w, "69-widget-create-parameter-mappings", table_visualization(w, "demo params safe")
        )
    ),
    "70-dashboard-with-widgets-by-id": Replay(lambda w: overview_dashboard(w, legacy=False)),
    "71-dashboard-with-widgets-by-slug-legacy": Replay(
        lambda w: overview_dashboard(w, legacy=True)
    ),
    "72-share-query-result-csv-user-key": Replay(
        lambda w: send(
            w,
            "GET",
            f"/api/query_results/{latest_result(w, 'example daily prices')}.csv",
            in_url=True,
        )
    ),
    "73-share-query-results-json-user-key": Replay(
        lambda w: send(
            w, "GET", query_path(w, "example daily prices", "/results.json"), in_url=True
        )
    ),
    "74-share-query-result-json-query-key": Replay(
        lambda w: send(
            w,
            "GET",
            f"/api/query_results/{latest_result(w, 'example daily prices')}.json",
            "example daily prices",
            in_url=True,
        )
    ),
    "75-share-query-results-csv-query-key": Replay(
        lambda w: send(
            w,
            "GET",
            query_path(w, "example daily prices", "/results.csv"),
            "example daily prices",
            in_url=True,
        )
    ),
    "76-share-query-result-by-id-json-query-key": Replay(
        lambda w: send(
            w,
            "GET",
            query_path(
                w,
                "example daily prices",
                f"/results/{latest_result(w, 'example daily prices')}.json",
            ),
            "example daily prices",
            in_url=True,
        )
    ),
    "77-share-wrong-key": Replay(
        lambda w: send(
            w, "GET", query_path(w, "example daily prices", "/results.csv"), "bad", in_url=True
        )
    ),
    "78-share-other-querys-key": Replay(
        lambda w: send(
            w,
            "GET",
            query_path(w, "example daily prices", "/results.csv"),
            "demo plain",
            in_url=True,
        )
    ),
    "79-pg-duplicate-column-names-json": Replay(
        lambda w: get_result(w, recorded_sql("79-pg-duplicate-column-names-json"), "json")
    ),
    "80-pg-duplicate-column-names-csv": Replay(
        lambda w: get_result(w, recorded_sql("80-pg-duplicate-column-names-csv"), "csv")
    ),
    "81-pg-more-types-json": Replay(lambda w: get_result(w, MORE_TYPES_SQL, "json")),
    "82-pg-more-types-csv": Replay(lambda w: get_result(w, MORE_TYPES_SQL, "csv")),
    "83-pg-numeric-nan-job-failed": Differs("PostgreSQL-only types"),
    "84-pg-timetz-job-failed": Differs("PostgreSQL-only types"),
    "85-pg-empty-typed-result-json": Replay(
        lambda w: get_result(w, DEMO_PG_COLUMNS + " WHERE 0", "json")
    ),
    "86-pg-empty-typed-result-csv": Replay(
        lambda w: get_result(w, DEMO_PG_COLUMNS + " WHERE 0", "csv")
    ),
    "87-pg-zero-columns-json": Differs("zero-column results"),
    "88-pg-zero-columns-csv": Differs("zero-column results"),
    "89-pg-no-data-job-failed": Replay(
        lambda w: failed_job(w, "CREATE TABLE IF NOT EXISTS nothing_returned (x INTEGER)", "pg")
    ),
    "90-dropdown-values-first-column": Replay(
        lambda w: send(w, "GET", query_path(w, "flag choices", "/dropdown"))
    ),
    "91-dropdown-values-via-parent-query": Replay(
        lambda w: send(
            w,
            "GET",
            query_path(w, "example dropdown", f"/dropdowns/{w.queries['flag choices']}"),
        )
    ),
    "92-dropdown-values-name-value-columns": Replay(
        lambda w: send(w, "GET", query_path(w, "example region choices", "/dropdown"))
    ),
}


# -- comparison ----------------------------------------------------------------------------
def shape_differences(
    real: Any, ours: Any, path: str = "$", *, rows: bool = True, lengths: bool = True
) -> list[str]:
    """Where ``ours`` has another shape than ``real``: key sets and JSON value types,
    recursively; list items pairwise, and list lengths (``lengths``) except a result's rows,
    which the samples cut. A null on either side matches any value (whether a value is null
    depends on the data, not on the server)."""
    if real is None or ours is None:
        return []
    if isinstance(real, dict):
        if not isinstance(ours, dict):
            return [f"{path}: an object was expected, not {json.dumps(ours)[:60]}"]
        expected = set(real) - RECORDING_ONLY
        found = []
        if expected != set(ours):
            found.append(
                f"{path}: keys missing {sorted(expected - set(ours))}, "
                f"extra {sorted(set(ours) - expected)}"
            )
        for key in sorted(expected & set(ours)):
            if key == "rows" and not rows:
                continue
            found += shape_differences(
                real[key], ours[key], f"{path}.{key}", rows=rows, lengths=lengths and key != "rows"
            )
        return found
    if isinstance(real, list):
        if not isinstance(ours, list):
            return [f"{path}: a list was expected, not {json.dumps(ours)[:60]}"]
        if real and not ours:
            return [f"{path}: empty where the real server had items"]
        found = []
        if lengths and len(real) != len(ours):
            found.append(f"{path}: {len(ours)} items where the real server had {len(real)}")
        return found + [
            difference
            for index, (a, b) in enumerate(zip(real, ours, strict=False))
            for difference in shape_differences(
                a, b, f"{path}[{index}]", rows=rows, lengths=lengths
            )
        ]
    if type(real) is not type(ours):
        return [f"{path}: {type(real).__name__} expected, got {type(ours).__name__} {ours!r:.60}"]
    return []


def message_of(body: Any) -> str | None:
    """The error text a client shows: ``message``, or a failed job's ``error``."""
    if not isinstance(body, dict):
        return None
    if isinstance(body.get("message"), str):
        return str(body["message"])
    job = body.get("job")
    if isinstance(job, dict) and job.get("status") == 4:
        return str(job.get("error"))
    return None


def normal_text(text: str | None) -> str | None:
    """Error texts as compared: the names of "Missing parameter value for" come in random
    order on a real server."""
    prefix = "Missing parameter value for: "
    if text and text.startswith(prefix):
        return prefix + ", ".join(sorted(text[len(prefix) :].split(", ")))
    return text


def disposition(value: str | None) -> str | None:
    """``attachment; filename=<name>_<date>.<ext>`` with the date (and a result id used as the
    name) left out."""
    if value is None:
        return None
    value = re.sub(r"_\d{4}_\d{2}_\d{2}\.", "_<date>.", value)
    return re.sub(r"filename=\d+_", "filename=<id>_", value)


def field_kind(value: str) -> str:
    """What a CSV field looks like: the formatting, not the value."""
    patterns = [
        ("empty", r""),
        ("integer", r"-?\d+"),
        ("float", r"-?\d+(\.\d+)?(e[+-]\d+)?"),
        ("date", r"\d\d/\d\d/\d\d"),
        ("datetime", r"\d\d/\d\d/\d\d \d\d:\d\d(:\d\d(\.\d+)?)?"),
        ("lower boolean", r"true|false"),
        ("python boolean", r"True|False"),
        ("list or object", r"[\[{].*[\]}]"),
    ]
    kind = next((name for name, p in patterns if re.fullmatch(p, value, re.S)), "text")
    if kind == "list or object":  # Python's repr writes strings with single quotes
        return "JSON text" if '"' in value else "Python repr"
    return kind


def csv_differences(real: str, ours: str, delimiter: str) -> list[str]:
    found = []
    real_head, _, _ = real.partition("\r\n")
    our_head, sep, _ = ours.partition("\r\n")
    if real_head != our_head:
        found.append(f"header {our_head!r} instead of {real_head!r}")
    if ("\r\n" in real) != bool(sep):
        found.append("records do not end with \\r\\n")
    real_rows = list(csv.reader(io.StringIO(real), delimiter=delimiter))[1:]
    our_rows = list(csv.reader(io.StringIO(ours), delimiter=delimiter))[1:]
    if bool(real_rows) != bool(our_rows):
        found.append(f"{len(our_rows)} rows where the real server had {len(real_rows)}")
    for number, (a, b) in enumerate(zip(real_rows, our_rows, strict=False), start=1):
        kinds = ([field_kind(v) for v in a], [field_kind(v) for v in b])
        if kinds[0] != kinds[1]:
            found.append(f"row {number}: fields {kinds[1]} where the real server had {kinds[0]}")
    return found


def schema_of(body: Any) -> Any:
    """A schema's table list: inline (``schema``) or in a finished schema job's ``result``."""
    if not isinstance(body, dict):
        return None
    job = body.get("job")
    if isinstance(job, dict) and job.get("status") == 3 and isinstance(job.get("result"), list):
        return job["result"]
    return body.get("schema")


def schema_differences(real: list[Any], ours: Any) -> list[str]:
    """Tables, then each table's columns (names, and types where given), word for word."""
    if not isinstance(ours, list):
        return [f"no schema: {json.dumps(ours)[:60]}"]
    tables = {t["name"]: t["columns"] for t in ours}
    if [t["name"] for t in real] != list(tables):
        return [f"schema tables {list(tables)}, real {[t['name'] for t in real]}"]
    found = []
    for table in real:
        mine = tables[table["name"]]
        if mine != table["columns"]:
            extra = [json.dumps(c) for c in mine if c not in table["columns"]]
            missing = [json.dumps(c) for c in table["columns"] if c not in mine]
            found.append(f"schema of {table['name']}: {extra} where the real server had {missing}")
    return found


def differences(
    sample: dict[str, Any], reply: requests.Response, *, columns: bool, lengths: bool = True
) -> list[str]:
    found = []
    if reply.status_code != sample["status"]:
        found.append(f"status {reply.status_code} instead of {sample['status']}")
    for header in HEADERS:
        if reply.headers.get(header) != sample["headers"].get(header):
            found.append(
                f"{header} {reply.headers.get(header)!r}, real {sample['headers'].get(header)!r}"
            )
    ours_disposition = disposition(reply.headers.get("Content-Disposition"))
    if ours_disposition != disposition(sample["headers"].get("Content-Disposition")):
        found.append(f"Content-Disposition {reply.headers.get('Content-Disposition')!r}")
    content_type = sample["headers"].get("Content-Type", "")
    body = sample["body"]
    if content_type.startswith("application/json"):
        real = json.loads(body) if isinstance(body, str) else body
        try:
            ours = reply.json()
        except ValueError:
            return [*found, f"not JSON: {reply.text[:80]!r}"]
        if real is None and ours is not None:
            found.append(f"a JSON null was expected, not {json.dumps(ours)[:60]}")
        found += shape_differences(real, ours, rows=columns, lengths=lengths)
        # the world's tables are the recorded ones: names and types must be the same words
        if schema_of(real) is not None:
            found += schema_differences(schema_of(real), schema_of(ours))
        if normal_text(message_of(real)) != normal_text(message_of(ours)):
            found.append(f"error text {message_of(ours)!r}, real {message_of(real)!r}")
        real_job, our_job = (b.get("job") if isinstance(b, dict) else None for b in (real, ours))
        if isinstance(real_job, dict) and isinstance(our_job, dict):
            if real_job.get("status") != our_job.get("status"):
                found.append(f"job status {our_job.get('status')}, real {real_job.get('status')}")
        if columns and isinstance(real, dict) and "query_result" in real:
            real_columns = real["query_result"]["data"]["columns"]
            our_columns = ours.get("query_result", {}).get("data", {}).get("columns")
            if real_columns != our_columns:
                found.append(f"columns {our_columns}, real {real_columns}")
    elif "text/csv" in content_type or "tab-separated" in content_type:
        found += csv_differences(body, reply.text, "," if "csv" in content_type else "\t")
    return found


# -- the suite -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def world() -> Any:
    with LocalWatch() as lw:
        yield build(lw)


def test_every_sample_has_an_entry():
    samples = {p.stem for p in SAMPLES_DIR.glob("*.json")}
    assert samples == set(CASES), (
        f"samples without an entry: {sorted(samples - set(CASES))}; "
        f"entries without a sample: {sorted(set(CASES) - samples)}"
    )


def _params() -> list[Any]:
    out = []
    for name, case in CASES.items():
        if isinstance(case, Replay):
            out.append(pytest.param(name, case, id=name))
    return out


@pytest.mark.parametrize(("name", "case"), _params())
def test_replay_matches_the_recorded_exchange(world, name, case):
    found = differences(
        load_sample(name), case.run(world), columns=case.columns, lengths=case.lengths
    )
    assert not found, f"{name}:\n  " + "\n  ".join(found)


@pytest.mark.parametrize(
    "name", [name for name, case in CASES.items() if isinstance(case, Differs)]
)
def test_each_difference_is_listed_with_its_reason_in_the_docs(name):
    text = DOCS.read_text(encoding="utf-8")
    row = next((line for line in text.splitlines() if f"`{name[:2]}`" in line), None)
    assert row is not None, f"docs/testing.md lists no difference for sample {name[:2]}"
    assert CASES[name].reason.lower() in row.lower()  # type: ignore[union-attr]


def _answer(status: int, content_type: str, body: Any) -> requests.Response:
    reply = requests.Response()
    reply.status_code = status
    reply.headers["Content-Type"] = content_type
    reply._content = (body if isinstance(body, str) else json.dumps(body)).encode()
    return reply


def test_the_comparison_sees_each_kind_of_difference():
    """The checks can fail: a missing key, another value type, another error text, job state,
    status, content type, and a CSV date written another way are each reported."""
    job = load_sample("12-job-failed")
    assert differences(job, _answer(200, "application/json", job["body"]), columns=True) == []
    changed = json.loads(json.dumps(job["body"]))
    del changed["job"]["result"]
    changed["job"]["updated_at"] = "2024-01-01T00:00:00"
    changed["job"]["error"] = "something else"
    changed["job"]["status"] = 3
    found = differences(job, _answer(500, "text/html", changed), columns=True)
    assert len(found) == 6, found
    typed = load_sample("28-typed-pg-csv")
    assert csv_differences(typed["body"], typed["body"], ",") == []
    iso_dates = typed["body"].replace("02/01/24,", "2024-01-02,")
    found = csv_differences(typed["body"], iso_dates, ",")
    assert len(found) == 1 and found[0].startswith("row 1:") and "'text'" in found[0]
    assert csv_differences(typed["body"], typed["body"].replace("\r\n", "\n"), ",")


def test_the_comparison_sees_a_body_instead_of_null_a_missing_item_and_a_schema_type():
    """A JSON ``null`` answer (a cancel) is not matched by a body; a list with an item less
    (a widget, a parameter) is reported, rows aside (the samples keep only the first rows);
    and a schema's table, column and type names are compared word for word."""
    cancel = load_sample("14-job-cancel")
    assert differences(cancel, _answer(200, "application/json", None), columns=True) == []
    found = differences(cancel, _answer(200, "application/json", {"job": {}}), columns=True)
    assert found and "null" in found[0], found
    dashboard = load_sample("35-dashboard-by-id")
    one_widget = {**dashboard["body"], "widgets": dashboard["body"]["widgets"][:1]}
    found = differences(dashboard, _answer(200, "application/json", one_widget), columns=True)
    assert found == ["$.widgets: 1 items where the real server had 2"], found
    typed = load_sample("27-typed-pg-json")
    fewer_rows = json.loads(json.dumps(typed["body"]))
    del (
        fewer_rows["query_result"]["data"]["rows"][1:],
        fewer_rows["query_result"]["data"]["rows_total"],
    )
    assert shape_differences(typed["body"], fewer_rows) == []
    for name in ("48-schema-pg-first-get", "50-schema-pg-job-finished"):
        sample = load_sample(name)
        renamed = json.loads(json.dumps(sample["body"]).replace("double precision", "real"))
        found = differences(sample, _answer(200, "application/json", renamed), columns=True)
        assert len(found) == 1 and "schema" in found[0] and "real" in found[0], (name, found)
