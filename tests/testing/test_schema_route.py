"""``GET /api/data_sources/<id>/schema`` as the real server answers it (samples 45-53)."""

from __future__ import annotations

from _samples import sample_body
from local_watch_helpers import call, wait_job

from watch_pandas.testing import LocalWatch

TYPED_TABLE = """
CREATE TABLE demo (id INTEGER, big_int BIGINT, price DOUBLE PRECISION, amount NUMERIC,
                   flag BOOLEAN, d DATE, ts TIMESTAMP, tstz TIMESTAMPTZ, label TEXT,
                   code VARCHAR(8), tags JSONB, wei BIGNUM TEXT);
CREATE VIEW demo_view AS SELECT id, label FROM demo;
"""


def test_plain_get_without_a_cached_schema_starts_a_job_that_caches_it(sqlite_lw: LocalWatch):
    sqlite_lw.hold_jobs()  # seen queued, as recorded
    first = call(sqlite_lw, "GET", "/api/data_sources/1/schema")
    assert first.status_code == 200
    job = first.json()["job"]
    assert {**job, "id": "x"} == {**sample_body("46-schema-sqlite-refresh-job")["job"], "id": "x"}
    sqlite_lw.release_jobs()
    done = wait_job(sqlite_lw, job["id"])
    recorded = sample_body("47-schema-sqlite-job-finished")["job"]
    assert done["status"] == 3
    assert done["result"] == done["query_result_id"] == recorded["result"]
    cached = call(sqlite_lw, "GET", "/api/data_sources/1/schema")
    assert cached.headers["Content-Type"] == "application/json"
    assert cached.json() == sample_body("45-schema-sqlite-first-get")


def test_any_refresh_parameter_starts_a_job_and_the_cache_stays_until_refreshed(
    sqlite_lw: LocalWatch,
):
    wait_job(sqlite_lw, call(sqlite_lw, "GET", "/api/data_sources/1/schema").json()["job"]["id"])
    sqlite_lw.execute_sql(1, "CREATE TABLE later (x INTEGER, a TEXT)")
    stale = call(sqlite_lw, "GET", "/api/data_sources/1/schema").json()
    assert [t["name"] for t in stale["schema"]] == ["demo"]
    answer = call(sqlite_lw, "GET", "/api/data_sources/1/schema?refresh=false").json()
    assert set(answer) == {"job"}
    done = wait_job(sqlite_lw, answer["job"]["id"])
    assert {"name": "later", "columns": ["a", "x"]} in done["result"]
    fresh = call(sqlite_lw, "GET", "/api/data_sources/1/schema").json()
    assert [t["name"] for t in fresh["schema"]] == ["demo", "later"]


def test_typed_source_reports_postgresql_type_names(local_watch: LocalWatch):
    ds = local_watch.add_data_source("pg-like", typed=True)
    local_watch.execute_sql(ds, TYPED_TABLE)
    job = call(local_watch, "GET", f"/api/data_sources/{ds}/schema?refresh=true").json()["job"]
    tables = {t["name"]: t["columns"] for t in wait_job(local_watch, job["id"])["result"]}
    types = {c["name"]: c["type"] for c in tables["demo"]}
    assert types == {
        "amount": "numeric",
        "big_int": "bigint",
        "code": "character varying",
        "d": "date",
        "flag": "boolean",
        "id": "integer",
        "label": "text",
        "price": "double precision",
        "tags": "jsonb",
        "ts": "timestamp without time zone",
        "tstz": "timestamp with time zone",
        "wei": "numeric",
    }
    assert [c["name"] for c in tables["demo"]] == sorted(types)
    recorded = sample_body("48-schema-pg-first-get")["schema"][0]["columns"]
    assert {c["type"] for c in recorded} >= set(types.values()) - {"character varying"}
    assert [c["name"] for c in tables["demo_view"]] == ["id", "label"]


def test_source_without_schema_answers_a_job_every_time_that_fails_with_an_error_object(
    local_watch: LocalWatch,
):
    ds = local_watch.add_data_source("python-like", schema=False)
    for _ in range(2):
        answer = call(local_watch, "GET", f"/api/data_sources/{ds}/schema").json()
        assert set(answer) == {"job"}
        failed = wait_job(local_watch, answer["job"]["id"])
        assert failed == {
            **sample_body("53-schema-python-source-job-failed")["job"],
            "id": failed["id"],
        }


def test_unknown_data_source_is_404(sqlite_lw: LocalWatch):
    assert call(sqlite_lw, "GET", "/api/data_sources/99/schema").status_code == 404


def test_refresh_schemas_warms_every_cache_as_the_periodic_refresh_does(sqlite_lw: LocalWatch):
    """A real server refreshes every source's schema on a schedule, so a first plain read is
    answered inline (sample 45); paused sources and sources without a schema are skipped."""
    paused = sqlite_lw.add_data_source("paused")
    sqlite_lw.execute_sql(paused, "CREATE TABLE p (x INTEGER)")
    sqlite_lw.pause_data_source(paused)
    python_like = sqlite_lw.add_data_source("python-like", schema=False)
    sqlite_lw.refresh_schemas()
    first = call(sqlite_lw, "GET", "/api/data_sources/1/schema")
    assert first.headers["Content-Type"] == "application/json"
    assert first.json() == sample_body("45-schema-sqlite-first-get")
    for skipped in (paused, python_like):
        answer = call(sqlite_lw, "GET", f"/api/data_sources/{skipped}/schema").json()
        assert set(answer) == {"job"}, skipped
