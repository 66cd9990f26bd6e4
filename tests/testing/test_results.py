"""Reading results: JSON encoding, CSV/TSV, headers (docs/protocol.md#fetching-results,
#value-encoding, #csv-and-tsv-downloads)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from _samples import load_sample
from local_watch_helpers import call, run_saved

EDGE_TABLE = """
CREATE TABLE edge (f REAL, ts TIMESTAMP, tstz TIMESTAMPTZ, maxdate DATE, d DATE,
                   null_bool BOOLEAN, t_bool BOOLEAN, int64max INTEGER, wei BIGNUM TEXT,
                   raw BLOB, label TEXT, whole TIMESTAMP);
INSERT INTO edge VALUES (9e999, '2024-01-01 00:00:00.999999', '2024-03-01T00:29:59+06:00',
  '9999-12-31', '2024-01-02', NULL, 1, 9223372036854775807,
  '115792089237316195423570985008687907853269984665640564039457584007913129639935',
  x'00ff', 'a', '2024-01-01 09:30:00');
INSERT INTO edge VALUES (NULL, NULL, NULL, NULL, NULL, 0, 0, -9223372036854775808,
  '-1180591620717411303424', NULL, NULL, NULL);
"""
UINT256 = 2**256 - 1


@pytest.fixture
def typed(local_watch):
    ds = local_watch.add_data_source("typed", typed=True)
    local_watch.execute_sql(ds, EDGE_TABLE)
    qid = local_watch.add_query("SELECT * FROM edge", ds, name="edge cases")
    rid = run_saved(local_watch, qid)["query_result_id"]
    return local_watch, qid, rid


def test_typed_json_encoding_matches_the_real_rules(typed):
    lw, qid, rid = typed
    reply = call(lw, "GET", f"/api/query_results/{rid}.json")
    result = reply.json()["query_result"]
    real = load_sample("32-pg-edge-cases-json")["body"]["query_result"]["data"]["rows"][0]
    types = {c["name"]: c["type"] for c in result["data"]["columns"]}
    assert types == {
        "f": "float",
        "ts": "datetime",
        "tstz": "datetime",
        "maxdate": "date",
        "d": "date",
        "null_bool": "boolean",
        "t_bool": "boolean",
        "int64max": "integer",
        "wei": "integer",
        "raw": None,
        "label": None,  # PostgreSQL's runner leaves text untyped (only varchar is "string")
        "whole": "datetime",
    }
    first, second = result["data"]["rows"]
    assert first["f"] is None  # Infinity → null
    assert first["ts"] == real["ts_micro"] == "2024-01-01T00:00:00.999"
    assert first["tstz"] == real["tstz_offset"] == "2024-02-29T18:29:59Z"
    assert first["maxdate"] == real["maxdate"]
    assert first["whole"] == "2024-01-01T09:30:00"  # no fraction when it is zero, no Z
    assert first["t_bool"] is True and second["t_bool"] is False and first["null_bool"] is None
    assert first["raw"] == real["by"] == "00ff"
    assert first["int64max"] == real["int64max"]
    assert first["wei"] == UINT256 and second["wei"] == -(2**70)
    assert str(UINT256) in reply.text  # exact digits in the body, not a float


def test_untyped_sqlite_json_and_csv_match_recorded(sqlite_lw):
    real_json = load_sample("30-untyped-sqlite-json")
    real_csv = load_sample("31-untyped-sqlite-csv")
    sql = real_json["body"]["query_result"]["query"]
    qid = sqlite_lw.add_query(sql, 1, name="demo plain")
    run_saved(sqlite_lw, qid)
    ours = call(sqlite_lw, "GET", f"/api/queries/{qid}/results.json")
    result = ours.json()["query_result"]
    assert result["query_hash"] == real_json["body"]["query_result"]["query_hash"]
    assert result["data"]["columns"] == real_json["body"]["query_result"]["data"]["columns"]
    assert result["data"]["rows"][:5] == real_json["body"]["query_result"]["data"]["rows"]
    csv_reply = call(sqlite_lw, "GET", f"/api/queries/{qid}/results.csv")
    assert csv_reply.text.startswith(real_csv["body"] + "\r\n")
    assert csv_reply.headers["Content-Type"] == real_csv["headers"]["Content-Type"]
    assert ours.headers["Content-Type"] == "application/json"


TYPED_DEMO = """
CREATE TABLE demo (id INTEGER, price REAL, flag BOOLEAN, d DATE, ts TIMESTAMP,
                   tstz TIMESTAMPTZ, label TEXT, maybe_null INTEGER, big_text TEXT,
                   big_int INTEGER, tags JSONB);
"""


@pytest.fixture
def typed_demo(local_watch):
    from local_watch_helpers import LABELS

    ds = local_watch.add_data_source("typed", typed=True)
    rows = []
    for i in range(1, 6):
        price = round((79.19 - (i - 1) * 20.81) % 100, 2)
        label = f"item {i}: {LABELS[(i - 1) % len(LABELS)]}".replace("'", "''")
        hhmmss = f"{8 + i:02d}:30:{15 + 2 * i:02d}"
        rows.append(
            f"({i}, {price}, {int(i == 3)}, '2024-01-{i + 1:02d}', '2024-01-01 {hhmmss}',"
            f" '2024-01-01T{hhmmss}.123+00:00', '{label}', {'NULL' if i == 4 else i * 10},"
            f" '123456789012345678901234', {9007199254740993 if i % 2 else 9223372036854775807},"
            f' \'{{"i": {i}, "even": {str(i % 2 == 0).lower()}}}\')'
        )
    local_watch.execute_sql(ds, TYPED_DEMO + "INSERT INTO demo VALUES " + ",".join(rows) + ";")
    qid = local_watch.add_query("SELECT * FROM demo ORDER BY id", ds, name="demo pg typed")
    run_saved(local_watch, qid)
    return local_watch, qid


def test_typed_json_types_and_nested_cells_match_recorded(typed_demo):
    lw, qid = typed_demo
    real = load_sample("27-typed-pg-json")["body"]["query_result"]["data"]
    ours = call(lw, "GET", f"/api/queries/{qid}/results.json").json()["query_result"]["data"]
    shared = [c["name"] for c in ours["columns"]]
    assert ours["columns"] == [c for c in real["columns"] if c["name"] in shared]
    assert [r["tags"] for r in ours["rows"]] == [r["tags"] for r in real["rows"]]
    assert {"label": None, "big_text": None, "tags": None}.items() <= {
        c["name"]: c["type"] for c in ours["columns"]
    }.items()  # PostgreSQL text and jsonb are untyped


@pytest.mark.parametrize(
    ("ext", "sample"), [("csv", "28-typed-pg-csv"), ("tsv", "29-typed-pg-tsv")]
)
def test_typed_csv_and_tsv_match_recorded(typed_demo, ext, sample):
    lw, qid = typed_demo
    real = load_sample(sample)
    reply = call(lw, "GET", f"/api/queries/{qid}/results.{ext}")
    assert reply.headers["Content-Type"] == real["headers"]["Content-Type"]
    delimiter = "," if ext == "csv" else "\t"
    real_rows = list(csv.DictReader(io.StringIO(real["body"], newline=""), delimiter=delimiter))
    our_rows = list(csv.DictReader(io.StringIO(reply.text, newline=""), delimiter=delimiter))
    for ours, theirs in zip(our_rows, real_rows, strict=True):
        assert ours == {k: v for k, v in theirs.items() if k in ours}
    assert reply.text.count("\r\n") == 6 and "multi\nline" in reply.text  # \r\n rows, \n kept


def test_edge_csv_formats_dates_with_org_settings(typed):
    lw, qid, rid = typed
    text = call(lw, "GET", f"/api/query_results/{rid}.csv").text
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert rows[0]["tstz"] == "29/02/24 18:29"  # as recorded (sample 33)
    assert rows[0]["maxdate"] == "31/12/99" and rows[0]["ts"] == "01/01/24 00:00"
    assert (rows[0]["t_bool"], rows[1]["t_bool"], rows[0]["null_bool"]) == ("true", "false", "")
    assert rows[0]["wei"] == str(UINT256) and rows[0]["f"] == ""
    lw.set_date_format("YYYY-MM-DD", "HH:mm:ss.SSS")
    rows = list(csv.DictReader(io.StringIO(call(lw, "GET", f"/api/query_results/{rid}.csv").text)))
    assert rows[0]["ts"] == "2024-01-01 00:00:00.999000" and rows[0]["d"] == "2024-01-02"
    config = call(lw, "GET", "/api/config", None).json()["client_config"]
    assert (config["dateFormat"], config["dateTimeFormat"]) == (
        "YYYY-MM-DD",
        "YYYY-MM-DD HH:mm:ss.SSS",
    )


def test_untyped_booleans_and_structures_in_csv(local_watch):
    ds = local_watch.add_data_source("db")
    job = call(
        local_watch,
        "POST",
        "/api/query_results",
        json={"query": "SELECT 1 = 1 AS b, NULL AS n, '' AS e", "data_source_id": ds},
    ).json()
    from local_watch_helpers import wait_job

    rid = wait_job(local_watch, job["job"]["id"])["query_result_id"]
    text = call(local_watch, "GET", f"/api/query_results/{rid}.csv").text
    assert text == "b,n,e\r\n1,,\r\n"  # SQLite booleans are 0/1; null and "" both empty


def test_download_headers(typed):
    lw, qid, rid = typed
    reply = call(lw, "GET", f"/api/queries/{qid}/results.csv")
    result = call(lw, "GET", f"/api/query_results/{rid}").json()["query_result"]
    day = result["retrieved_at"][:10].replace("-", "_")
    assert reply.headers["Content-Disposition"] == f"attachment; filename=edge_cases_{day}.csv"
    assert "Cache-Control" not in reply.headers
    by_rid = call(lw, "GET", f"/api/queries/{qid}/results/{rid}.json")
    assert by_rid.headers["Cache-Control"] == "private,max-age=31557600"
    assert by_rid.headers["Content-Disposition"] == f"attachment; filename=edge_cases_{day}.json"
    plain = call(lw, "GET", f"/api/query_results/{rid}.tsv")
    assert plain.headers["Content-Disposition"] == f"attachment; filename={rid}_{day}.tsv"


def test_odd_query_names_in_filenames(local_watch):
    ds = local_watch.add_data_source("db")
    weird = local_watch.add_query("SELECT 1 AS x", ds, name='a/b:c  "d"')
    unicode = local_watch.add_query("SELECT 2 AS x", ds, name="prix €")
    run_saved(local_watch, weird)
    run_saved(local_watch, unicode)
    first = call(local_watch, "GET", f"/api/queries/{weird}/results.csv").headers
    assert first["Content-Disposition"].startswith("attachment; filename=a_b_c_d_")
    second = call(local_watch, "GET", f"/api/queries/{unicode}/results.csv").headers
    assert "filename*=UTF-8''prix_%E2%82%AC_" in second["Content-Disposition"]


@pytest.mark.parametrize("path", ["/api/queries/{qid}/results.txt", "/api/query_results/{rid}.xml"])
def test_unknown_extension_is_500(typed, path):
    lw, qid, rid = typed
    assert call(lw, "GET", path.format(qid=qid, rid=rid)).status_code == 500


def test_no_cached_result_and_unknown_result(local_watch):
    ds = local_watch.add_data_source("db")
    qid = local_watch.add_query("SELECT 1 AS x", ds)
    reply = call(local_watch, "GET", f"/api/queries/{qid}/results.json")
    assert (reply.status_code, reply.json()) == (
        404,
        {"message": "No cached result found for this query."},
    )
    assert call(local_watch, "GET", "/api/query_results/999").status_code == 404


def test_duplicate_column_names_get_suffixes(local_watch):
    ds = local_watch.add_data_source("db")
    qid = local_watch.add_query("SELECT 1 AS x, 2 AS x, 3 AS x", ds)
    rid = run_saved(local_watch, qid)["query_result_id"]
    data = call(local_watch, "GET", f"/api/query_results/{rid}").json()["query_result"]["data"]
    assert [c["name"] for c in data["columns"]] == ["x", "x1", "x2"]
    assert data["rows"] == [{"x": 1, "x1": 2, "x2": 3}]


def test_empty_result_has_columns_and_no_rows(local_watch):
    ds = local_watch.add_data_source("db")
    local_watch.execute_sql(ds, "CREATE TABLE t (a INTEGER, b TEXT);")
    qid = local_watch.add_query("SELECT a, b FROM t", ds)
    rid = run_saved(local_watch, qid)["query_result_id"]
    body = call(local_watch, "GET", f"/api/query_results/{rid}").json()
    assert json.dumps(body["query_result"]["data"]["rows"]) == "[]"
    assert [c["name"] for c in body["query_result"]["data"]["columns"]] == ["a", "b"]
    assert call(local_watch, "GET", f"/api/query_results/{rid}.csv").text == "a,b\r\n"


@pytest.mark.parametrize(
    "moment",
    [
        "DD/MM/YY HH:mm",
        "YYYY-MM-DD HH:mm:ss",
        "MM/DD/YY HH:mm:ss.SSS",
        "DD.MM.YYYY",
        "YYYY",  # one field
        "{DD} [MM] YYYY",  # literal text that means something to str.format
        "DD%MM",  # a literal % meets the next directive: strftime reads "%%" then "m"
        "YYYY %b",  # a directive the slices cannot print: strftime does it
    ],
)
@pytest.mark.parametrize(
    "value",
    [
        "2024-01-02T03:04:05",
        "2024-01-02T03:04:05.678",
        "2024-02-29T18:29:59Z",
        "9999-12-31T23:59:59.999Z",
        "2024-01-02",
    ],
)
def test_csv_date_reformatting_equals_strftime(moment, value):
    import datetime as dt

    from watch_pandas.testing._serialize import _datetime_converter, moment_to_strftime

    fmt = moment_to_strftime(moment)
    convert = _datetime_converter(fmt)
    iso = value.replace("Z", "+00:00")  # Python 3.10's fromisoformat does not read "Z"
    assert convert(value) == dt.datetime.fromisoformat(iso).strftime(fmt)
    assert convert("not a date") == "not a date" and convert(None) is None


def test_all_null_and_empty_typed_columns_keep_declared_types(typed):
    lw, qid, rid = typed
    ds = call(lw, "GET", f"/api/queries/{qid}").json()["data_source_id"]
    cases = {
        "SELECT f, d, null_bool, wei, label, ts FROM edge WHERE 0": [
            "float",
            "date",
            "boolean",
            "integer",
            None,  # label TEXT: untyped, as PostgreSQL's text
            "datetime",
        ],
        "SELECT null_bool, d FROM edge WHERE d IS NULL": ["boolean", "date"],
        'SELECT NULL AS "x [TIMESTAMPTZ]", NULL AS y': ["datetime", None],
    }
    for sql, expected in cases.items():
        qid2 = lw.add_query(sql, ds)
        rid2 = run_saved(lw, qid2)["query_result_id"]
        columns = call(lw, "GET", f"/api/query_results/{rid2}").json()["query_result"]["data"][
            "columns"
        ]
        assert [c["type"] for c in columns] == expected, sql


def test_untyped_source_stays_untyped_when_empty(local_watch):
    ds = local_watch.add_data_source("db")
    local_watch.execute_sql(ds, "CREATE TABLE t (a INTEGER, b DATE);")
    rid = run_saved(local_watch, local_watch.add_query("SELECT a, b FROM t", ds))["query_result_id"]
    columns = call(local_watch, "GET", f"/api/query_results/{rid}").json()["query_result"]["data"][
        "columns"
    ]
    assert [c["type"] for c in columns] == [None, None]


def test_xlsx_without_its_writer_is_a_clear_501_and_an_unknown_extension_a_500_as_upstream(
    local_watch, monkeypatch
):
    from watch_pandas import ServerError, WatchClient
    from watch_pandas.testing import _serialize

    ds = local_watch.add_data_source("db")
    qid = local_watch.add_query("SELECT 1 AS a", ds)
    rid = run_saved(local_watch, qid)["query_result_id"]
    monkeypatch.setattr(_serialize, "xlsx_available", lambda: False)

    for path in (f"/api/query_results/{rid}.xlsx", f"/api/queries/{qid}/results.xlsx"):
        response = call(local_watch, "GET", path)
        assert response.status_code == 501
        assert 'pip install "watch-pandas[server]"' in response.json()["message"]
    assert call(local_watch, "GET", f"/api/query_results/{rid}.ods").status_code == 500

    with WatchClient(local_watch.url, local_watch.admin_key) as watch:
        with pytest.raises(ServerError, match=r"xlsx downloads need xlsxwriter"):
            watch.get_result(rid, "xlsx")
