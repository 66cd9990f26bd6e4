"""Executing queries: cache, max_age, dedup, jobs, cancel, parameters
(docs/protocol.md#running-a-saved-query, #jobs, #parameters, #result-caching)."""

from __future__ import annotations

import pytest
from _samples import load_sample
from local_watch_helpers import call, run_saved, wait_job

PARAMS = load_sample("06-query-demo-params")["body"]
RANGES = load_sample("06-query-example-ranges-multi")["body"]


@pytest.fixture
def params_query(sqlite_lw):
    """The recorded "demo params" query (date, number, enum, text parameters)."""
    return sqlite_lw.add_query(
        PARAMS["query"], 1, name="demo params", parameters=PARAMS["options"]["parameters"]
    )


def post(lw, qid, body=None, key="admin", **kw):
    return call(lw, "POST", f"/api/queries/{qid}/results", key, json=body, **kw)


def test_no_body_returns_cached_result_of_any_age_and_max_age_0_a_job(sqlite_lw):
    qid = sqlite_lw.add_query("SELECT id, price FROM demo ORDER BY id", 1, name="plain")
    first = run_saved(sqlite_lw, qid)
    executions = sqlite_lw.counters.executions
    cached = post(sqlite_lw, qid, data="not json")
    assert cached.status_code == 200
    assert cached.json()["query_result"]["id"] == first["query_result_id"]
    assert set(cached.json()["query_result"]) == set(
        load_sample("07-results-post-cached")["body"]["query_result"]
    )
    assert sqlite_lw.counters.executions == executions  # a cache hit executes nothing
    for body in ({"max_age": None}, {"max_age": -1}, {"max_age": 3600}):
        assert post(sqlite_lw, qid, body).json()["query_result"]["id"] == first["query_result_id"]
    fresh = post(sqlite_lw, qid, {"max_age": 0}).json()
    assert set(fresh) == {"job"}
    assert set(fresh["job"]) == set(load_sample("08-results-post-max-age-0")["body"]["job"])
    assert sqlite_lw.counters.executions == executions + 1


def test_non_numeric_max_age_is_500(sqlite_lw):
    qid = sqlite_lw.add_query("SELECT 1 AS x", 1)
    assert post(sqlite_lw, qid, {"max_age": "soon"}).status_code == 500


def test_cache_is_keyed_on_normalised_sql_and_data_source(sqlite_lw):
    other_ds = sqlite_lw.add_data_source("second")
    sqlite_lw.execute_sql(other_ds, "CREATE TABLE demo (id INTEGER, price REAL);")
    a = sqlite_lw.add_query("SELECT id FROM demo /* comment */ ORDER BY id", 1)
    b = sqlite_lw.add_query("SELECT id\n  FROM demo   ORDER BY id", 1)
    c = sqlite_lw.add_query("SELECT id FROM demo ORDER BY id", other_ds)
    rid = run_saved(sqlite_lw, a)["query_result_id"]
    # the finished run became latest_query_data of b too (same hash + data source), not of c
    assert call(sqlite_lw, "GET", f"/api/queries/{b}").json()["latest_query_data_id"] == rid
    assert call(sqlite_lw, "GET", f"/api/queries/{c}").json()["latest_query_data_id"] is None
    assert post(sqlite_lw, b, {}).json()["query_result"]["id"] == rid
    assert "job" in post(sqlite_lw, c, {}).json()
    upper = sqlite_lw.add_query("select id from demo order by id", 1)
    assert "job" in post(sqlite_lw, upper, {}).json()  # case-sensitive hash (master)


def test_identical_sql_while_queued_returns_the_same_job(sqlite_lw):
    qid = sqlite_lw.add_query("SELECT id FROM demo", 1)
    adhoc_sql = "SELECT  id FROM demo /* same after normalisation */"
    sqlite_lw.hold_jobs()
    first = post(sqlite_lw, qid, {"max_age": 0}).json()["job"]
    again = post(sqlite_lw, qid, {"max_age": 0}).json()["job"]
    adhoc = call(
        sqlite_lw,
        "POST",
        "/api/query_results",
        json={"query": adhoc_sql, "data_source_id": 1, "max_age": 0},
    ).json()["job"]
    assert first["id"] == again["id"] == adhoc["id"]
    assert first["status"] == 1 and first["updated_at"] == 0
    assert sqlite_lw.counters.executions == 1
    sqlite_lw.release_jobs()
    assert wait_job(sqlite_lw, first["id"])["status"] == 3
    assert post(sqlite_lw, qid, {"max_age": 0}).json()["job"]["id"] != first["id"]


def test_job_goes_through_every_state(local_watch_factory):
    lw = local_watch_factory(execution_delay=0.3)
    ds = lw.add_data_source("db")
    lw.hold_jobs()
    job = call(
        lw,
        "POST",
        "/api/query_results",
        json={"query": "SELECT 1 AS x", "data_source_id": ds, "max_age": 0},
    ).json()["job"]
    seen = [call(lw, "GET", f"/api/jobs/{job['id']}").json()["job"]]
    lw.release_jobs()
    while seen[-1]["status"] not in (3, 4):
        seen.append(call(lw, "GET", f"/api/jobs/{job['id']}").json()["job"])
    statuses = [j["status"] for j in seen]
    assert statuses[0] == 1 and 2 in statuses and statuses[-1] == 3
    running = next(j for j in seen if j["status"] == 2)
    assert isinstance(running["updated_at"], str) and not running["updated_at"].endswith("Z")
    assert seen[-1]["updated_at"] == 0
    assert seen[-1]["result"] == seen[-1]["query_result_id"] is not None


def test_sql_error_is_a_failed_job_with_the_database_message(sqlite_lw):
    sample = load_sample("11-adhoc-post")
    reply = call(sqlite_lw, "POST", "/api/query_results", json=sample["request"]["json"])
    assert reply.status_code == 200
    job = wait_job(sqlite_lw, reply.json()["job"]["id"])
    expected = load_sample("12-job-failed")["body"]["job"]
    assert {k: job[k] for k in ("status", "error", "result", "query_result_id", "updated_at")} == {
        k: expected[k] for k in ("status", "error", "result", "query_result_id", "updated_at")
    }


def test_statement_without_result_set_fails(sqlite_lw):
    reply = call(
        sqlite_lw,
        "POST",
        "/api/query_results",
        json={"query": "CREATE TABLE x (a INTEGER)", "data_source_id": 1, "max_age": 0},
    )
    job = wait_job(sqlite_lw, reply.json()["job"]["id"])
    assert (job["status"], job["error"]) == (4, "Query completed but it returned no data.")


def test_cancel_a_held_job(sqlite_lw):
    sqlite_lw.hold_jobs()
    job = call(
        sqlite_lw,
        "POST",
        "/api/query_results",
        json={"query": "SELECT 1 AS x", "data_source_id": 1},
    ).json()["job"]
    reply = call(sqlite_lw, "DELETE", f"/api/jobs/{job['id']}")
    assert (reply.status_code, reply.text) == (200, load_sample("14-job-cancel")["body"])
    after = call(sqlite_lw, "GET", f"/api/jobs/{job['id']}").json()
    assert after == {"job": {**load_sample("15-job-cancelled")["body"]["job"], "id": job["id"]}}
    sqlite_lw.release_jobs()
    assert call(sqlite_lw, "GET", f"/api/jobs/{job['id']}").json()["job"]["status"] == 4


def test_cancel_interrupts_a_running_sqlite_query(sqlite_lw):
    endless = (
        "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c) "
        "SELECT count(*) AS n FROM c"
    )
    job = call(
        sqlite_lw, "POST", "/api/query_results", json={"query": endless, "data_source_id": 1}
    ).json()["job"]
    while call(sqlite_lw, "GET", f"/api/jobs/{job['id']}").json()["job"]["status"] == 1:
        pass
    call(sqlite_lw, "DELETE", f"/api/jobs/{job['id']}")
    sqlite_lw.wait_for_jobs()  # returns only because the statement was interrupted
    final = call(sqlite_lw, "GET", f"/api/jobs/{job['id']}").json()["job"]
    assert (final["status"], final["error"]) == (4, "Query cancelled by user.")


def test_cancel_after_finish_flips_the_job(sqlite_lw):
    job = call(
        sqlite_lw,
        "POST",
        "/api/query_results",
        json={"query": "SELECT 1 AS x", "data_source_id": 1},
    ).json()["job"]
    assert wait_job(sqlite_lw, job["id"])["status"] == 3
    call(sqlite_lw, "DELETE", f"/api/jobs/{job['id']}")
    assert call(sqlite_lw, "GET", f"/api/jobs/{job['id']}").json()["job"]["status"] == 4


def test_unknown_job_is_500(sqlite_lw):
    sample = load_sample("16-job-unknown")
    reply = call(sqlite_lw, "GET", "/api/jobs/00000000-0000-0000-0000-000000000000")
    assert (reply.status_code, reply.json()) == (sample["status"], sample["body"])
    assert call(sqlite_lw, "DELETE", "/api/jobs/nope").status_code == 500


def test_adhoc_without_data_source_is_401_job_error(sqlite_lw):
    sample = load_sample("17-adhoc-no-data-source")
    reply = call(sqlite_lw, "POST", "/api/query_results", json=sample["request"]["json"])
    assert (reply.status_code, reply.json()) == (sample["status"], sample["body"])


def test_adhoc_without_query_or_with_unknown_data_source_is_500(sqlite_lw):
    assert (
        call(sqlite_lw, "POST", "/api/query_results", json={"data_source_id": 1}).status_code == 500
    )
    unknown = call(
        sqlite_lw, "POST", "/api/query_results", json={"query": "SELECT 1", "data_source_id": 99}
    )
    assert unknown.status_code == 500


def test_adhoc_parameters_are_not_validated_and_lists_join_with_commas(sqlite_lw):
    reply = call(
        sqlite_lw,
        "POST",
        "/api/query_results",
        json={
            "query": "SELECT id FROM demo WHERE id IN ({{ ids }}) AND '{{ anything }}' = 'x'",
            "data_source_id": 1,
            "parameters": {"ids": ["1", "3"], "anything": "x"},
            "max_age": 0,
        },
    )
    rid = wait_job(sqlite_lw, reply.json()["job"]["id"])["query_result_id"]
    result = call(sqlite_lw, "GET", f"/api/query_results/{rid}").json()["query_result"]
    assert result["query"] == "SELECT id FROM demo WHERE id IN (1,3) AND 'x' = 'x'"
    assert [r["id"] for r in result["data"]["rows"]] == [1, 3]


def test_missing_parameters_job_error(sqlite_lw, params_query):
    sample = load_sample("18-params-missing")
    reply = post(sqlite_lw, params_query, sample["request"]["json"])
    assert reply.status_code == sample["status"] == 400
    error = reply.json()["job"]["error"]
    prefix = "Missing parameter value for: "
    assert error.startswith(prefix) and reply.json()["job"]["status"] == 4
    real = set(sample["body"]["job"]["error"][len(prefix) :].split(", "))
    assert set(error[len(prefix) :].split(", ")) == real  # order is random on the real server


def test_incompatible_parameter_values(sqlite_lw, params_query):
    sample = load_sample("19-params-incompatible")
    reply = post(sqlite_lw, params_query, sample["request"]["json"])
    assert (reply.status_code, reply.json()) == (sample["status"], sample["body"])


good = {"start_date": "2024-01-01", "min_price": 1, "flag": "1", "label": "x"}


@pytest.mark.parametrize(
    ("change", "bad"),
    [
        ({"start_date": "2024-13-45"}, "start_date"),
        ({"min_price": "cheap"}, "min_price"),
        ({"extra": 1}, "extra"),
        ({"label": 5}, "label"),
        ({"start_date": "d_yesterday"}, "start_date"),  # dynamic values are resolved by clients
        ({"flag": ["1"]}, "flag"),  # a list for a single-value enum
    ],
)
def test_each_kind_of_bad_value_is_named(sqlite_lw, params_query, change, bad):
    reply = post(sqlite_lw, params_query, {"parameters": {**good, **change}})
    assert reply.status_code == 400
    assert reply.json() == {
        "message": f"The following parameter values are incompatible with their definitions: {bad}"
    }


def test_lenient_values_are_accepted(sqlite_lw, params_query):
    # number as a numeric string, enum as a JSON number (docs/protocol.md#parameters)
    job = run_saved(sqlite_lw, params_query, {**good, "min_price": "50", "flag": 1})
    assert job["status"] == 3


def test_server_never_fills_defaults(sqlite_lw, params_query):
    reply = post(sqlite_lw, params_query, {"parameters": {"flag": "1"}})
    assert (
        reply.status_code == 400 and "Missing parameter value for" in reply.json()["job"]["error"]
    )


def test_ranges_and_quoted_multi_values_render_like_recorded(sqlite_lw):
    qid = sqlite_lw.add_query(RANGES["query"], 1, parameters=RANGES["options"]["parameters"])
    job = run_saved(
        sqlite_lw,
        qid,
        {"period": {"start": "2024-02-01", "end": "2024-03-01"}, "kinds": ["a", "c"]},
    )
    result = call(sqlite_lw, "GET", f"/api/query_results/{job['query_result_id']}.json").json()
    real = load_sample("42-range-and-multi-result")["body"]["query_result"]
    assert result["query_result"]["query"] == real["query"]
    assert result["query_result"]["query_hash"] == real["query_hash"]


def test_multi_value_outside_the_options_is_invalid(sqlite_lw):
    qid = sqlite_lw.add_query(RANGES["query"], 1, parameters=RANGES["options"]["parameters"])
    reply = post(
        sqlite_lw,
        qid,
        {
            "parameters": {
                "period": {"start": "2024-02-01", "end": "2024-03-01"},
                "kinds": ["a", "zzz"],
            }
        },
    )
    assert reply.status_code == 400


def test_query_dropdown_validates_against_the_source_querys_latest_result(sqlite_lw):
    source = sqlite_lw.add_query("SELECT DISTINCT flag AS value FROM demo ORDER BY 1", 1)
    definition = {"name": "f", "type": "query", "title": "F", "value": "1", "queryId": source}
    qid = sqlite_lw.add_query(
        "SELECT count(*) AS n FROM demo WHERE flag = {{ f }}", 1, parameters=[definition]
    )
    before = post(sqlite_lw, qid, {"parameters": {"f": "1"}})
    assert before.status_code == 400  # no cached result yet: nothing is a valid value
    run_saved(sqlite_lw, source)
    assert run_saved(sqlite_lw, qid, {"f": "1"})["status"] == 3
    assert post(sqlite_lw, qid, {"parameters": {"f": "7"}}).status_code == 400
    values = call(sqlite_lw, "GET", f"/api/queries/{qid}/dropdowns/{source}").json()
    assert values == [{"name": 0, "value": "0"}, {"name": 1, "value": "1"}]  # name keeps 0


def test_dropdown_values_keep_the_json_type_of_name_like_recorded(sqlite_lw):
    first_column = load_sample("90-dropdown-values-first-column")["body"]
    via_parent = load_sample("91-dropdown-values-via-parent-query")["body"]
    name_value = load_sample("92-dropdown-values-name-value-columns")["body"]
    source = sqlite_lw.add_query("SELECT DISTINCT flag FROM demo ORDER BY 1", 1)
    pairs = sqlite_lw.add_query(
        "SELECT DISTINCT CASE id % 3 WHEN 0 THEN 'North' WHEN 1 THEN 'South' ELSE 'West' END"
        " AS name, id % 3 AS value FROM demo ORDER BY value",
        1,
    )
    definition = {"name": "f", "type": "query", "title": "F", "value": "1", "queryId": source}
    parent = sqlite_lw.add_query(
        "SELECT count(*) AS n FROM demo WHERE flag = {{ f }}", 1, parameters=[definition]
    )
    run_saved(sqlite_lw, source)
    run_saved(sqlite_lw, pairs)
    assert call(sqlite_lw, "GET", f"/api/queries/{source}/dropdown").json() == first_column
    route = f"/api/queries/{parent}/dropdowns/{source}"
    assert call(sqlite_lw, "GET", route).json() == via_parent
    assert call(sqlite_lw, "GET", f"/api/queries/{pairs}/dropdown").json() == name_value
    # the parameter is checked against the values (strings), not the names
    assert run_saved(sqlite_lw, parent, {"f": "1"})["status"] == 3


def test_latest_result_follows_only_default_valued_runs(sqlite_lw, params_query):
    safe_defs = [p for p in PARAMS["options"]["parameters"] if p["type"] != "text"]
    sql = PARAMS["query"].replace("\n  AND label LIKE '%{{ label }}%'", "")
    qid = sqlite_lw.add_query(sql, 1, parameters=safe_defs)
    qkey = sqlite_lw.query_key(qid)
    defaults = {p["name"]: p["value"] for p in safe_defs}
    other = {**defaults, "min_price": 20}
    other_job = run_saved(sqlite_lw, qid, other, key=qkey)
    assert call(sqlite_lw, "GET", f"/api/queries/{qid}").json()["latest_query_data_id"] is None
    assert call(sqlite_lw, "GET", f"/api/queries/{qid}/results.json").status_code == 404
    # the query key gets a non-default run only by repeating the POST (trimmed reply)
    hidden = call(
        sqlite_lw, "GET", f"/api/queries/{qid}/results/{other_job['query_result_id']}.json", qkey
    )
    assert (hidden.status_code, hidden.json()) == (
        404,
        load_sample("24-query-key-result-by-id-hash-mismatch")["body"],
    )
    again = post(sqlite_lw, qid, {"parameters": other}, qkey).json()
    assert set(again["query_result"]) == set(
        load_sample("25-query-key-repost-trimmed")["body"]["query_result"]
    )
    assert set(again["query_result"]["data"]) == {"columns", "rows"}
    default_job = run_saved(sqlite_lw, qid, defaults)
    latest = call(sqlite_lw, "GET", f"/api/queries/{qid}").json()["latest_query_data_id"]
    assert latest == default_job["query_result_id"]
    assert call(sqlite_lw, "GET", f"/api/queries/{qid}/results.json", qkey).status_code == 200


def test_user_key_cache_hit_is_the_full_object(sqlite_lw):
    qid = sqlite_lw.add_query("SELECT 1 AS x", 1)
    run_saved(sqlite_lw, qid)
    full = post(sqlite_lw, qid, {}).json()["query_result"]
    assert {
        "id",
        "query_hash",
        "query",
        "data",
        "data_source_id",
        "runtime",
        "retrieved_at",
    } <= set(full)


def test_fail_query_by_id_and_by_sql_substring(sqlite_lw):
    a = sqlite_lw.add_query("SELECT 1 AS x", 1)
    b = sqlite_lw.add_query("SELECT 2 AS special", 1)
    sqlite_lw.fail_query(a)
    sqlite_lw.fail_query("special", error="permission denied for table t")
    assert run_saved(sqlite_lw, a)["error"] == 'relation "x" does not exist'
    assert run_saved(sqlite_lw, b)["error"] == "permission denied for table t"
    sqlite_lw.clear_failures()
    assert run_saved(sqlite_lw, a)["status"] == 3


def test_refresh_always_executes_with_p_arguments(sqlite_lw):
    qid = sqlite_lw.add_query(
        "SELECT {{ n }} AS n",
        1,
        parameters=[{"name": "n", "type": "number", "title": "N", "value": 1}],
    )
    reply = call(sqlite_lw, "POST", f"/api/queries/{qid}/refresh", params={"p_n": "4"})
    job = wait_job(sqlite_lw, reply.json()["job"]["id"])
    rows = call(sqlite_lw, "GET", f"/api/query_results/{job['query_result_id']}").json()
    assert rows["query_result"]["data"]["rows"] == [{"n": 4}]


def test_apply_auto_limit_appends_limit(sqlite_lw):
    reply = call(
        sqlite_lw,
        "POST",
        "/api/query_results",
        json={"query": "SELECT id FROM demo", "data_source_id": 1, "apply_auto_limit": True},
    )
    job = wait_job(sqlite_lw, reply.json()["job"]["id"])
    result = call(sqlite_lw, "GET", f"/api/query_results/{job['query_result_id']}").json()
    assert result["query_result"]["query"] == "SELECT id FROM demo LIMIT 1000"


def test_query_without_definitions_accepts_any_parameters(sqlite_lw):
    # ParameterizedQuery has no schema to check against: values are just rendered
    qid = sqlite_lw.add_query("SELECT {{ n }} AS n", 1)
    job = run_saved(sqlite_lw, qid, {"n": 7, "unused": "x"})
    result = call(sqlite_lw, "GET", f"/api/query_results/{job['query_result_id']}").json()
    assert result["query_result"]["data"]["rows"] == [{"n": 7}]


def _executed_sql(lw, job) -> str:
    reply = call(lw, "GET", f"/api/query_results/{job['query_result_id']}")
    return reply.json()["query_result"]["query"]


SPACED = [
    {"name": "my param", "type": "number", "title": "My param", "value": 1},
    {"name": "prix €", "type": "text", "title": "Prix", "value": "x"},
    {"name": "período", "type": "date-range", "title": "P", "value": None},
]


def test_saved_parameter_names_with_spaces_and_non_ascii_are_rendered(sqlite_lw):
    """Redash's web UI allows any name; pystache trims and looks up whatever is in the tag."""
    sql = (
        "SELECT id FROM demo WHERE id = {{ my param }} AND '{{prix €}}' = 'x'"
        " AND '{{ período.start }}' < '{{período.end}}'"
    )
    qid = sqlite_lw.add_query(sql, 1, parameters=SPACED)
    values = {"my param": 2, "prix €": "x", "período": {"start": "2024-01-01", "end": "2024-02-01"}}
    job = run_saved(sqlite_lw, qid, values)
    assert job["status"] == 3, job
    assert _executed_sql(sqlite_lw, job) == (
        "SELECT id FROM demo WHERE id = 2 AND 'x' = 'x' AND '2024-01-01' < '2024-02-01'"
    )


def test_a_missing_spaced_name_is_named_in_the_missing_error(sqlite_lw):
    qid = sqlite_lw.add_query("SELECT {{ my param }} AS n", 1, parameters=SPACED[:1])
    reply = post(sqlite_lw, qid, {"parameters": {}, "max_age": 0})
    assert reply.status_code == 400
    assert reply.json()["job"]["error"] == "Missing parameter value for: my param"


def test_adhoc_names_with_spaces_non_ascii_and_literal_tags_are_rendered(sqlite_lw):
    reply = call(
        sqlite_lw,
        "POST",
        "/api/query_results",
        json={
            "query": "SELECT {{ my param }} AS a, '{{ ñame }}' AS b, '{{{ raw one }}}' AS c,"
            " '{{& amp }}' AS d {{! a comment }}",
            "data_source_id": 1,
            "parameters": {"my param": 7, "ñame": "ü", "raw one": "r", "amp": "&"},
            "max_age": 0,
        },
    )
    assert reply.status_code == 200, reply.text
    job = wait_job(sqlite_lw, reply.json()["job"]["id"])
    assert job["status"] == 3, job
    result = call(sqlite_lw, "GET", f"/api/query_results/{job['query_result_id']}").json()
    assert result["query_result"]["query"] == "SELECT 7 AS a, 'ü' AS b, 'r' AS c, '&' AS d "
    assert result["query_result"]["data"]["rows"] == [{"a": 7, "b": "ü", "c": "r", "d": "&"}]
