"""Nested cells and untyped text from the typed (PostgreSQL-like) source, read over HTTP with the
public verbs: the frames are what the client makes of the recorded PostgreSQL bodies.

The source: docs/testing.md#the-typed-source
The dtypes: docs/guide.md#column-types
"""

from __future__ import annotations

import functools
import json
from typing import Any

import pandas as pd
import pytest
import requests
from _samples import load_sample

from watch_pandas import read_watch_query, run_sql
from watch_pandas._decode import decode_result

# The recorded "more types" query (sample 81) as a table of the typed source.
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
BACKENDS = ["numpy_nullable", "pyarrow"]


@pytest.fixture
def pg(local_watch) -> tuple[Any, int]:
    ds = local_watch.add_data_source("pg", typed=True)
    return local_watch, ds


def reader(lw, verb=read_watch_query):
    return functools.partial(verb, url=lw.url, api_key=lw.admin_key, progress=False, cache=False)


def raw_body(lw, qid: int) -> bytes:
    reply = requests.get(
        f"{lw.url}/api/queries/{qid}/results.json",
        headers={"Authorization": f"Key {lw.admin_key}"},
        timeout=60,
    )
    assert reply.status_code == 200, reply.text
    return reply.content


@pytest.mark.parametrize("backend", BACKENDS)
def test_nested_cells_read_as_the_recorded_postgresql_body_reads(pg, backend):
    lw, ds = pg
    lw.execute_sql(ds, MORE_TYPES)
    qid = lw.add_query("SELECT * FROM more", ds, name="more types")
    frame = reader(lw)(qid, max_age=0, dtype_backend=backend)
    recorded, _ = decode_result(
        json.dumps(load_sample("81-pg-more-types-json")["body"]), dtype_backend=backend
    )
    frame.attrs = recorded.attrs = {}
    pd.testing.assert_frame_equal(frame, recorded, check_exact=True)
    # and what that is: nested cells are Python lists/dicts in object columns
    assert frame["int_arr_2d"].dtype == object and frame["int_arr_2d"][0] == [[1, 2], [3, 4]]
    assert frame["int_arr_null"][0] == [1, None, 3]
    assert frame["jsonb_arr"][0] == [1, "x", None, {"k": 1.5}]
    assert frame["json_obj"][0] == {"b": 1, "a": 2}
    assert frame["text_arr"].dtype == object and frame["text_arr"][0] == ["a", "b,c", 'd"e']
    assert frame["iv_months"][0] == "425 days, 0:00:00"


def test_untyped_text_columns_from_the_typed_source(pg):
    lw, ds = pg
    lw.execute_sql(
        ds,
        """
        CREATE TABLE t (id INTEGER, note TEXT, code VARCHAR(8), gone TEXT, unset VARCHAR(8),
                        iso TEXT, tags JSONB);
        INSERT INTO t VALUES (1, 'a, "b"', 'x1', NULL, NULL, '2024-01-02', '{"k": [1]}'),
                             (2, NULL, NULL, NULL, NULL, '2024-01-03', NULL),
                             (3, '', 'x3', NULL, NULL, NULL, '[]');
        """,
    )
    qid = lw.add_query("SELECT * FROM t ORDER BY id", ds, name="text kinds")
    raw = json.loads(raw_body_after_run(lw, qid))["query_result"]["data"]
    assert {c["name"]: c["type"] for c in raw["columns"]} == {
        "id": "integer",
        "note": None,
        "code": "string",
        "gone": None,
        "unset": "string",
        "iso": None,
        "tags": None,
    }
    frame = reader(lw)(qid)
    dtypes = {k: str(v) for k, v in frame.dtypes.items()}
    assert dtypes == {
        "id": "Int64",
        "note": "string",  # untyped, all strings → string
        "code": "string",
        "gone": "object",  # untyped and all null: nothing to infer from
        "unset": "string",  # typed: NA, still a string column
        "iso": "datetime64[s]",  # untyped ISO dates are inferred (infer_untyped)
        "tags": "object",
    }
    assert frame["note"].tolist()[0] == 'a, "b"' and frame["note"].tolist()[2] == ""
    assert frame["note"].isna().tolist() == [False, True, False]
    assert frame["gone"].tolist() == [None, None, None]
    assert frame["tags"].tolist() == [{"k": [1]}, None, []]


def raw_body_after_run(lw, qid: int) -> bytes:
    reader(lw)(qid, max_age=0)
    return raw_body(lw, qid)


@pytest.mark.parametrize("backend", BACKENDS)
def test_large_nested_result_streams_through_the_splitter_and_scanner(pg, backend):
    """Over 1 MB of rows whose nested values hold ``}, {`` (where the splitter cuts): the
    streamed read equals the whole-body decode and the database's values."""
    lw, ds = pg
    rows = 12_000
    sql = f"""WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < {rows})
SELECT n AS id,
  json_array(json_object('k', n), json_object('k', n + 1, 's', '}}, {{')) AS "objs [JSONB]",
  CASE WHEN n % 7 = 0 THEN NULL ELSE json_array(n, NULL, json_array(n)) END
    AS "arr [INTEGER[]]",
  'label ' || n AS label
FROM seq"""
    qid = lw.add_query(sql, ds, name="nested large")
    frame = reader(lw)(qid, max_age=0, dtype_backend=backend)
    body = raw_body(lw, qid)
    assert len(body) > 1 << 20
    whole, _ = decode_result(body, dtype_backend=backend)
    frame.attrs = whole.attrs = {}
    pd.testing.assert_frame_equal(frame, whole, check_exact=True)
    assert len(frame) == rows
    assert frame["objs"][4] == [{"k": 5}, {"k": 6, "s": "}, {"}]
    assert frame["arr"][5] == [6, None, [6]] and frame["arr"][6] is None
    assert str(frame["label"].dtype).startswith("string")


def test_run_sql_declares_types_with_aliases(pg):
    lw, ds = pg
    frame = reader(lw, run_sql)(
        "SELECT json_object('a', json_array(1, 2)) AS \"js [JSONB]\","
        " '[\"x\", null]' AS \"names [TEXT[]]\", 'free' AS t",
        ds,
    )
    assert frame["js"].tolist() == [{"a": [1, 2]}]
    assert frame["names"].tolist() == [["x", None]]
    assert frame["t"].tolist() == ["free"]


def test_csv_download_of_nested_cells_is_the_recorded_text(pg):
    lw, ds = pg
    lw.execute_sql(ds, MORE_TYPES)
    qid = lw.add_query("SELECT * FROM more", ds, name="more types csv")
    reader(lw)(qid, max_age=0)
    reply = requests.get(
        f"{lw.url}/api/queries/{qid}/results.csv",
        headers={"Authorization": f"Key {lw.admin_key}"},
        timeout=30,
    )
    assert reply.text == load_sample("82-pg-more-types-csv")["body"]
