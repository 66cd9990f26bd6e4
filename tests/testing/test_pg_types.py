"""The typed source's PostgreSQL model: reported column types, nested cells, their CSV, compared
with recorded PostgreSQL answers (docs/testing.md#the-typed-source)."""

from __future__ import annotations

import csv
import io

import pytest
from _samples import load_sample
from local_watch_helpers import call, run_saved

from watch_pandas.testing import _pgtypes

# The columns of the recorded "more types" query (sample 81), declared with their PostgreSQL
# types and holding what that query selected (intervals as seconds, arrays and json as JSON).
MORE_TYPES = """
CREATE TABLE more (neg_inf DOUBLE PRECISION, two_pow_64 NUMERIC, neg_two_pow_70 NUMERIC,
  tiny NUMERIC, int_arr_null INTEGER[], int_arr_2d INTEGER[][], text_arr TEXT[],
  float_arr DOUBLE PRECISION[], jsonb_arr JSONB, jsonb_str JSONB, jsonb_null JSONB,
  json_obj JSON, iv_neg INTERVAL, iv_months INTERVAL, t_micro TIME, by4 BYTEA,
  by_empty BYTEA, u UUID, money MONEY, ip INET, pt POINT, i16 SMALLINT, f32_max REAL);
INSERT INTO more VALUES (-9e999, 18446744073709551616, -1180591620717411303424, 1e-30,
  '[1, null, 3]', '[[1, 2], [3, 4]]', '["a", "b,c", "d\\"e"]', '[1.5, 2.5]',
  '[1, "x", null, {"k": 1.5}]', '"str"', 'null', '{"b": 1, "a": 2}',
  -244493.5, 36720000, '00:00:00.000', x'deadbeef', x'',
  'b3c1f2a4-0000-4000-8000-00000000000a', '$12.50', '192.168.0.1/24', '(1.5,2)', 32767,
  3.4028235e38);
"""


@pytest.fixture
def pg(local_watch):
    ds = local_watch.add_data_source("pg", typed=True)
    return local_watch, ds


def run(lw, ds: int, sql: str) -> tuple[dict, int]:
    """Run ``sql`` as a saved query; its finished job and the result id."""
    job = run_saved(lw, lw.add_query(sql, ds))
    return job, job["query_result_id"]


def result_of(lw, rid: int) -> dict:
    return call(lw, "GET", f"/api/query_results/{rid}.json").json()["query_result"]


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        ("TEXT", None),
        ("text", None),
        ("VARCHAR(20)", "string"),
        ("CHARACTER VARYING(5)", "string"),
        ("CHAR(3)", None),  # bpchar is not in the runner's type map
        ("JSON", None),
        ("JSONB", None),
        ("INTERVAL", None),  # "INT" inside the name does not make it an integer
        ("POINT", None),
        ("UUID", None),
        ("BYTEA", None),
        ("MONEY", None),
        ("INET", None),
        ("TIME", None),
        ("GEOMETRY", None),
        ("INTEGER", "integer"),
        ("SMALLINT", "integer"),
        ("BIGINT", "integer"),
        ("MEDIUMINT", "integer"),  # SQLite's INT rule for names PostgreSQL does not have
        ("BIGNUM TEXT", "integer"),
        ("HUGEINT", "integer"),
        ("NUMERIC(10, 2)", "float"),
        ("DOUBLE PRECISION", "float"),
        ("REAL", "float"),
        ("BOOLEAN", "boolean"),
        ("DATE", "date"),
        ("TIMESTAMP", "datetime"),
        ("TIMESTAMPTZ", "datetime"),
        ("TIMESTAMP WITH TIME ZONE", "datetime"),
        ("TEXT[]", "string"),
        ("VARCHAR(3)[]", "string"),
        ("UUID[]", "string"),
        ("TEXT ARRAY", "string"),
        ("DATE[]", "date"),
        ("TIMESTAMPTZ[]", "datetime"),
        ("INTEGER[]", None),
        ("INTEGER[][]", None),
        ("DOUBLE PRECISION[]", None),
        ("JSONB[]", None),
    ],
)
def test_declared_type_is_reported_like_the_postgresql_runner(declared, expected):
    assert _pgtypes.pg_type(declared).wire == expected


def test_more_types_json_matches_recorded(pg):
    lw, ds = pg
    lw.execute_sql(ds, MORE_TYPES)
    real = load_sample("81-pg-more-types-json")["body"]["query_result"]["data"]
    _, rid = run(lw, ds, "SELECT * FROM more")
    ours = result_of(lw, rid)["data"]
    assert ours["columns"] == real["columns"]
    assert ours["rows"] == real["rows"]


def test_more_types_csv_matches_recorded_text(pg):
    lw, ds = pg
    lw.execute_sql(ds, MORE_TYPES)
    real = load_sample("82-pg-more-types-csv")
    _, rid = run(lw, ds, "SELECT * FROM more")
    reply = call(lw, "GET", f"/api/query_results/{rid}.csv")
    assert reply.headers["Content-Type"] == real["headers"]["Content-Type"]
    assert reply.text == real["body"]


def test_nested_cells_in_tsv_are_python_reprs(pg):
    lw, ds = pg
    lw.execute_sql(ds, MORE_TYPES)
    _, rid = run(lw, ds, "SELECT jsonb_arr, json_obj, int_arr_null FROM more")
    text = call(lw, "GET", f"/api/query_results/{rid}.tsv").text
    row = next(iter(csv.DictReader(io.StringIO(text, newline=""), delimiter="\t")))
    assert row == {
        "jsonb_arr": "[1, 'x', None, {'k': 1.5}]",
        "json_obj": "{'b': 1, 'a': 2}",
        "int_arr_null": "[1, None, 3]",
    }


def test_expression_aliases_declare_postgresql_types(pg):
    lw, ds = pg
    sql = (
        "SELECT json_object('k', 1, 'v', json_array(1, 2)) AS \"js [JSONB]\","
        ' \'[1, 2]\' AS "arr [INTEGER ARRAY]", \'["a"]\' AS "tags [TEXT[]]",'
        " 'free text' AS t, 'short' AS \"v [VARCHAR]\", 90061 AS \"iv [INTERVAL]\""
    )
    _, rid = run(lw, ds, sql)
    data = result_of(lw, rid)["data"]
    assert [(c["name"], c["type"]) for c in data["columns"]] == [
        ("js", None),
        ("arr", None),
        ("tags", "string"),
        ("t", None),
        ("v", "string"),
        ("iv", None),
    ]
    assert data["rows"] == [
        {
            "js": {"k": 1, "v": [1, 2]},
            "arr": [1, 2],
            "tags": ["a"],
            "t": "free text",
            "v": "short",
            "iv": "1 day, 1:01:01",
        }
    ]


def test_duplicate_column_names_match_recorded(pg):
    lw, ds = pg
    real_json = load_sample("79-pg-duplicate-column-names-json")["body"]["query_result"]
    real_csv = load_sample("80-pg-duplicate-column-names-csv")["body"]
    _, rid = run(lw, ds, real_json["query"])
    ours = result_of(lw, rid)
    assert ours["data"] == real_json["data"]
    assert call(lw, "GET", f"/api/query_results/{rid}.csv").text == real_csv


EMPTY_DEMO = """
CREATE TABLE demo (id INTEGER, price DOUBLE PRECISION, amount NUMERIC, flag BOOLEAN, d DATE,
  ts TIMESTAMP, tstz TIMESTAMPTZ, label TEXT, big_num NUMERIC, tags JSONB);
"""


def test_empty_result_keeps_declared_types_like_recorded(pg):
    lw, ds = pg
    lw.execute_sql(ds, EMPTY_DEMO)
    real_json = load_sample("85-pg-empty-typed-result-json")["body"]["query_result"]
    real_csv = load_sample("86-pg-empty-typed-result-csv")["body"]
    _, rid = run(lw, ds, real_json["query"].replace("WHERE false", "WHERE 0"))
    assert result_of(lw, rid)["data"] == real_json["data"]
    assert call(lw, "GET", f"/api/query_results/{rid}.csv").text == real_csv


@pytest.mark.parametrize(
    ("declared", "stored", "error"),
    [
        ("JSONB", "{not json", 'invalid input syntax for type json: "{not json"'),
        ("JSON", "NaN", 'invalid input syntax for type json: "NaN"'),
        ("INTEGER[]", "{1,2}", 'malformed array literal: "{1,2}"'),
        ("TEXT[]", '{"a": 1}', "malformed array literal"),
    ],
)
def test_a_cell_that_is_not_its_declared_kind_fails_the_job(pg, declared, stored, error):
    lw, ds = pg
    lw.execute_sql(ds, f"CREATE TABLE bad (x {declared}); INSERT INTO bad VALUES ('{stored}');")
    job, _ = run(lw, ds, "SELECT x FROM bad")
    assert job["status"] == 4
    assert job["error"].startswith(error)
    if "array" in error:  # says what the local server reads instead
        assert "JSON list" in job["error"]
