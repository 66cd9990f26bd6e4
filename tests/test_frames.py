"""Tests for watch_pandas._decode: JSON/CSV result bodies → typed DataFrames.

The CSV bodies are written here with the stdlib ``csv`` module following the server's rules
(docs/protocol.md#csv-and-tsv-downloads), independently of the decoder, and compared with the
JSON frame.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from watch_pandas import _decode, _rows
from watch_pandas._decode import _workers, csv_loss_reason, decode_csv, decode_result, read_result
from watch_pandas.errors import LossyFormatError, ServerError, WatchError
from watch_pandas.models import Column

UINT256_MAX = 2**256 - 1
BACKENDS = ("numpy_nullable", "pyarrow")


# --------------------------------------------------------------------------- helpers


@pytest.fixture(
    autouse=True,
    params=[
        "decode_result",
        "read_result",
        "read_result_msgspec",
        "read_result_3_workers",
        "read_result_msgspec_3_workers",
    ],
)
def decoder(request, monkeypatch) -> str:
    """Every test of ``decode_result`` runs again through ``read_result``, streamed in 7-byte
    chunks and cut into ~40-byte batches — with the compiled row scanner and with msgspec
    alone (an install without a C compiler), each on one thread and on three decode workers
    — so the streaming paths must give the same frames, metadata and errors in every case
    this file covers."""
    monkeypatch.setenv(_workers.ENV_WORKERS, "3" if "workers" in request.param else "1")
    if "msgspec" in request.param:
        monkeypatch.setattr(_rows, "_scan_rows", None)
    if request.param.startswith("read_result"):

        def streamed(body, **kwargs):
            raw = body.encode() if isinstance(body, str) else body
            chunks = (raw[i : i + 7] for i in range(0, len(raw), 7))
            return read_result(chunks, batch_bytes=40, **kwargs)

        monkeypatch.setitem(globals(), "decode_result", streamed)
    return request.param


def result_body(columns: list[tuple[str, str | None]], rows: list[dict[str, Any]], **data) -> str:
    """A full ``{"query_result": ...}`` body as the server writes it (stdlib json: exact ints)."""
    return json.dumps(
        {
            "query_result": {
                "id": 7,
                "query_hash": "abc",
                "query": "SELECT 1",
                "data": {
                    "columns": [{"name": n, "friendly_name": n, "type": t} for n, t in columns],
                    "rows": rows,
                    **data,
                },
                "data_source_id": 2,
                "runtime": 0.25,
                "retrieved_at": "2026-11-28T00:14:58.290Z",
            }
        }
    )


def sample_body(sample, name: str) -> str:
    return json.dumps(sample(name)["body"])


# moment → strftime, as docs/protocol.md#csv-and-tsv-downloads lists it (applied in this order by
# the server).
MOMENT_TO_STRFTIME = [
    ("DD", "%d"),
    ("MM", "%m"),
    ("YYYY", "%Y"),
    ("YY", "%y"),
    ("HH", "%H"),
    ("mm", "%M"),
    ("ss", "%S"),
    ("SSS", "%f"),
]


def _strftime_format(moment: str) -> str:
    for token, directive in MOMENT_TO_STRFTIME:
        moment = moment.replace(token, directive)
    return moment


def server_csv(
    columns: list[tuple[str, str | None]],
    rows: list[dict[str, Any]],
    *,
    date_format: str = "DD/MM/YY",
    time_format: str = "HH:mm",
    delimiter: str = ",",
) -> bytes:
    """What the server's CSV/TSV download of this result looks like
    (docs/protocol.md#csv-and-tsv-downloads)."""
    date_fmt = _strftime_format(date_format)
    datetime_fmt = _strftime_format(f"{date_format} {time_format}")
    out = io.StringIO()
    writer = csv.writer(out, dialect="excel", delimiter=delimiter)
    writer.writerow([name for name, _ in columns])
    for row in rows:
        fields = []
        for name, kind in columns:
            value = row.get(name)
            if value is None:
                fields.append("")
            elif kind == "boolean":
                fields.append("true" if value else "false")
            elif kind in ("date", "datetime"):
                fmt = date_fmt if kind == "date" else datetime_fmt
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
                fields.append(parsed.strftime(fmt))
            else:
                fields.append(value)  # csv writes str()/repr() like the server
        writer.writerow(fields)
    return out.getvalue().encode("utf-8")


def cols(spec: list[tuple[str, str | None]]) -> list[Column]:
    return [Column(name=n, type=t, friendly_name=n) for n, t in spec]


def keep_csv_columns(body: str, keep: list[str]) -> bytes:
    """Drop columns from a recorded CSV body, rewriting it with the server's dialect."""
    records = list(csv.reader(io.StringIO(body, newline="")))
    header = records[0]
    idx = [header.index(k) for k in keep]
    out = io.StringIO()
    writer = csv.writer(out, dialect="excel")
    for rec in records:
        writer.writerow([rec[i] for i in idx])
    return out.getvalue().encode("utf-8")


def json_columns(sample_json: dict[str, Any]) -> list[Column]:
    return [Column.from_json(c) for c in sample_json["body"]["query_result"]["data"]["columns"]]


# --------------------------------------------------------------------------- typed columns


def _utc(*stamps: str | None) -> list:
    return [None if s is None else pd.Timestamp(s, tz="UTC") for s in stamps]


TYPED_CASES = {
    # name: (column type, JSON values, numpy_nullable expected, pyarrow type)
    "integer": ("integer", [1, None, -3, 2**63 - 1, -(2**63)], "Int64", pa.int64()),
    "float": ("float", [1.5, None, 2, 1e16, 1.2345678901234569e23], "Float64", pa.float64()),
    "boolean": ("boolean", [True, None, False], "boolean", pa.bool_()),
    "string": ("string", ["a", "", None, 'ü "q"\n\r\t日本'], "string", pa.string()),
    "date": (
        "date",
        ["2024-01-02", "9999-12-31", "0001-01-01", None],
        "datetime64[s]",
        pa.date32(),
    ),
    "datetime_naive": (
        "datetime",
        ["2024-01-01T00:00:00.999", "2024-01-01T09:30:17", "9999-12-31T23:59:59.999", None],
        "datetime64[ms]",
        pa.timestamp("ms"),
    ),
    "datetime_utc": (
        "datetime",
        ["2024-02-29T18:29:59Z", "2024-01-01T09:30:17.123Z", None, "0001-01-01T00:00:00Z"],
        "datetime64[ms, UTC]",
        pa.timestamp("ms", tz="UTC"),
    ),
}


def _expected_values(case: str) -> list:
    kind, values, _, _ = TYPED_CASES[case]
    if kind == "float":
        return [None if v is None else float(v) for v in values]
    if kind == "date":
        return [None if v is None else np.datetime64(v, "s") for v in values]
    if kind == "datetime" and case == "datetime_utc":
        return _utc(*[v and v.rstrip("Z") for v in values])
    if kind == "datetime":
        return [None if v is None else np.datetime64(v, "ms") for v in values]
    return list(values)


@pytest.mark.parametrize("case", sorted(TYPED_CASES))
def test_typed_column_numpy_nullable(case: str) -> None:
    kind, values, dtype, _ = TYPED_CASES[case]
    df, _ = decode_result(result_body([("c", kind)], [{"c": v} for v in values]))
    expected = pd.Series(_expected_values(case), dtype=dtype, name="c")
    pd.testing.assert_series_equal(df["c"], expected)
    assert df["c"].isna().tolist() == [v is None for v in values]


@pytest.mark.parametrize("case", sorted(TYPED_CASES))
def test_typed_column_pyarrow(case: str) -> None:
    kind, values, _, arrow_type = TYPED_CASES[case]
    df, _ = decode_result(
        result_body([("c", kind)], [{"c": v} for v in values]), dtype_backend="pyarrow"
    )
    assert df["c"].dtype == pd.ArrowDtype(arrow_type)
    numpy_df, _ = decode_result(result_body([("c", kind)], [{"c": v} for v in values]))
    # Same values as the NumPy-backed frame, missing in the same places.
    assert df["c"].isna().tolist() == numpy_df["c"].isna().tolist()
    got = [None if pd.isna(v) else v for v in df["c"].tolist()]
    want = [None if pd.isna(v) else v for v in numpy_df["c"].tolist()]
    if kind == "date":
        want = [None if v is None else v.date() for v in want]
    assert got == want


def test_string_keeps_empty_distinct_from_null() -> None:
    df, _ = decode_result(result_body([("s", "string")], [{"s": ""}, {"s": None}]))
    assert df["s"].iloc[0] == ""
    assert df["s"].iloc[1] is pd.NA


def test_float_null_is_na_not_nan() -> None:
    df, _ = decode_result(result_body([("f", "float")], [{"f": None}, {"f": 2}]))
    assert df["f"].dtype == "Float64"
    assert df["f"].iloc[0] is pd.NA
    assert df["f"].iloc[1] == 2.0


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "values",
    [
        [2**63, 1, None],
        [2**64, -(2**70), UINT256_MAX, None, 42],
        [-(2**63) - 1],
    ],
)
def test_integers_beyond_int64_stay_exact_python_ints(values: list, backend: str) -> None:
    df, _ = decode_result(
        result_body([("wei", "integer")], [{"wei": v} for v in values]), dtype_backend=backend
    )
    assert df["wei"].dtype == object
    assert df["wei"].tolist() == values
    assert all(type(v) is int for v in df["wei"] if v is not None)


def test_float_column_with_inexact_int_keeps_it_exact() -> None:
    df, _ = decode_result(result_body([("f", "float")], [{"f": 2**53 + 1}, {"f": 0.5}]))
    assert df["f"].dtype == object
    assert df["f"].tolist() == [2**53 + 1, 0.5]


def test_datetime_offsets_are_converted_to_utc() -> None:
    df, _ = decode_result(
        result_body([("t", "datetime")], [{"t": "2024-01-01T09:30:17+05:30"}, {"t": None}])
    )
    assert str(df["t"].dtype) == "datetime64[ms, UTC]"
    assert df["t"].iloc[0] == pd.Timestamp("2024-01-01T04:00:17", tz="UTC")


def test_datetime_mixing_naive_and_aware_keeps_the_text() -> None:
    values = ["2024-01-01T09:30:17", "2024-01-01T09:30:17Z", None]
    df, _ = decode_result(result_body([("t", "datetime")], [{"t": v} for v in values]))
    assert df["t"].dtype == object
    assert df["t"].tolist() == values


def test_datetime_with_microseconds_is_not_truncated() -> None:
    df, _ = decode_result(result_body([("t", "datetime")], [{"t": "2024-01-01T00:00:00.123456"}]))
    assert df["t"].iloc[0] == pd.Timestamp("2024-01-01T00:00:00.123456")


@pytest.mark.parametrize(
    ("kind", "values"),
    [
        ("integer", ["abc", 1]),
        ("integer", [1.5, 2]),
        ("boolean", [1, 0]),
        ("string", [1, "a"]),
        ("date", ["not a date"]),
        ("datetime", ["yesterday"]),
    ],
)
def test_values_defying_their_type_are_never_changed(kind: str, values: list) -> None:
    df, _ = decode_result(result_body([("c", kind)], [{"c": v} for v in values]))
    assert [None if v is pd.NA else v for v in df["c"].tolist()] == values


# --------------------------------------------------------------------------- untyped inference


UNTYPED_CASES = [
    # (values, infer_untyped, expected dtype, expected values or None to compare to input)
    ([1, None, 0], True, "Int64", None),
    ([1, 2.5, None], True, "Float64", [1.0, 2.5, None]),
    ([2**53 + 1, 2.5], True, "object", None),
    ([True, None, False], True, "boolean", None),
    ([True, 1], True, "object", None),
    (["a", "", None], True, "string", None),
    (["23:56:51", "1 day, 2:00:00"], True, "string", None),
    (["2024-13-45"], True, "string", None),
    (["2024-01-02", None, "9999-12-31"], True, "datetime64[s]", None),
    (["2024-01-02", None], False, "string", None),
    (["2024-01-01 09:30:17", "2024-01-01T00:00:00.999"], True, "datetime64[ms]", None),
    (["2024-01-01 09:30", None], True, "datetime64[ms]", None),
    (["2024-02-29T18:29:59Z", "2024-01-01T09:30:17+06:00"], True, "datetime64[ms, UTC]", None),
    (["2024-01-01T09:30:17", "2024-01-01T09:30:17Z"], True, "string", None),
    (["2024-01-01 09:30:17"], False, "string", None),
    ([{"a": [1, 2]}, [1, 2, 3], None], True, "object", None),
    (["a", 1, 2.5, True], True, "object", None),
    ([None, None], True, "object", None),
    ([2**64, -1], True, "object", None),
]


@pytest.mark.parametrize(("values", "infer", "dtype", "expected"), UNTYPED_CASES)
def test_untyped_inference(values: list, infer: bool, dtype: str, expected: list | None) -> None:
    df, _ = decode_result(
        result_body([("u", None)], [{"u": v} for v in values]), infer_untyped=infer
    )
    assert str(df["u"].dtype) == dtype
    got = [None if pd.isna(v) is True else v for v in df["u"].tolist()]
    if dtype.startswith("datetime64"):
        want = [None if v is None else pd.Timestamp(v) for v in values]
        if "UTC" in dtype:
            want = [w.tz_convert("UTC") for w in want]
        assert got == want
    else:
        assert got == (values if expected is None else expected)


def test_untyped_all_null_is_object_of_none() -> None:
    df, _ = decode_result(result_body([("u", None)], [{"u": None}, {}]))
    assert df["u"].dtype == object
    assert df["u"].tolist() == [None, None]


def test_untyped_json_cells_keep_python_objects() -> None:
    cells = [{"i": 1, "even": False}, [1, 2, 3], {"a": {"b": None}}]
    df, _ = decode_result(result_body([("js", None)], [{"js": c} for c in cells]))
    assert df["js"].tolist() == cells
    assert isinstance(df["js"].iloc[1], list)


# --------------------------------------------------------------------------- result shapes


def test_missing_row_keys_are_null() -> None:
    body = result_body(
        [("a", "integer"), ("b", "string")], [{"a": 1}, {"b": "x"}, {"a": 3, "b": "y"}]
    )
    df, _ = decode_result(body)
    assert df["a"].isna().tolist() == [False, True, False]
    assert df["b"].isna().tolist() == [True, False, False]


def test_column_order_comes_from_columns_not_rows() -> None:
    body = result_body([("z", "integer"), ("a", "integer")], [{"a": 1, "z": 2}])
    df, _ = decode_result(body)
    assert list(df.columns) == ["z", "a"]
    assert df.iloc[0].tolist() == [2, 1]


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_result_keeps_dtypes(backend: str) -> None:
    spec = [(k, k) for k in ("integer", "float", "boolean", "string", "date", "datetime")]
    df, meta = decode_result(result_body(spec + [("u", None)], []), dtype_backend=backend)
    full, _ = decode_result(
        result_body(
            spec + [("u", None)],
            [
                {
                    "integer": 1,
                    "float": 1.5,
                    "boolean": True,
                    "string": "s",
                    "date": "2024-01-02",
                    "datetime": "2024-01-01T00:00:00",
                }
            ],
        ),
        dtype_backend=backend,
    )
    assert len(df) == 0
    assert isinstance(df.index, pd.RangeIndex)
    assert list(df.columns) == [n for n, _ in spec] + ["u"]
    assert df.dtypes.tolist() == full.dtypes.tolist()
    assert [c.name for c in meta.columns] == list(df.columns)


def test_duplicate_column_names_are_kept() -> None:
    body = result_body(
        [("x", "integer"), ("x", "integer"), ("x1", "string")], [{"x": 5, "x1": "a"}]
    )
    df, _ = decode_result(body)
    assert list(df.columns) == ["x", "x", "x1"]
    assert df.iloc[0].tolist() == [5, 5, "a"]
    assert df.dtypes.tolist() == [pd.Int64Dtype(), pd.Int64Dtype(), pd.StringDtype()]


@pytest.mark.parametrize("col_type", ["string", None, "date"])
def test_a_lone_surrogate_is_kept_exactly_in_an_object_column(col_type) -> None:
    # "\ud800" is valid JSON for a str that has no UTF-8 (no Arrow string can hold it)
    body = result_body([("s", col_type)], [{"s": "a\ud800"}, {"s": "b"}, {"s": None}])
    assert '"a\\ud800"' in body
    df, _ = decode_result(body)
    assert df["s"].dtype == object and df["s"].tolist() == ["a\ud800", "b", None]


def test_column_names_the_server_escapes_are_read() -> None:
    # msgspec cannot name a field 'say "hi"': such results take the careful path
    names = ['say "hi"', "back\\slash", "tab\there", "prix €"]
    body = result_body([(n, "integer") for n in names], [dict.fromkeys(names, 7)])
    df, meta = decode_result(body)
    assert list(df.columns) == names and df.iloc[0].tolist() == [7] * 4
    assert [c.name for c in meta.columns] == names


def test_extra_data_keys_are_ignored(sample) -> None:
    df, meta = decode_result(sample_body(sample, "43-python-source-uint256-json"))
    assert list(df.columns) == ["block", "amount_wei", "holder"]
    assert df["amount_wei"].tolist() == [10**30 + 7, UINT256_MAX, -(2**70), None, 42]
    assert df["block"].dtype == "Int64"
    assert df["holder"].dtype == "string"
    assert meta.id == 64 and meta.data_source_id == 3


def test_trimmed_inline_result_for_query_key(sample) -> None:
    df, meta = decode_result(sample_body(sample, "25-query-key-repost-trimmed"))
    assert meta.id is None and meta.query is None and meta.runtime is None
    assert meta.retrieved_at == "2026-11-28T00:14:56.755Z"
    assert df["id"].tolist() == [121, 122, 125, 127, 128]
    assert str(df["ts"].dtype) == "datetime64[ms]"


def test_bare_query_result_object_and_str_or_bytes_body() -> None:
    full = json.loads(result_body([("a", "integer")], [{"a": 1}]))
    bare = json.dumps(full["query_result"])
    df_bare, meta_bare = decode_result(bare)
    df_bytes, meta_bytes = decode_result(bare.encode("utf-8"))
    pd.testing.assert_frame_equal(df_bare, df_bytes)
    assert meta_bare == meta_bytes
    assert meta_bare.id == 7 and meta_bare.runtime == 0.25
    assert df_bare["a"].tolist() == [1]


def test_rows_without_a_column_list_give_untyped_columns() -> None:
    body = b'{"data": {"columns": [], "rows": [{"a": 1, "b": "x"}, {"c": true}]}}'
    df, meta = decode_result(body)
    assert list(df.columns) == ["a", "b", "c"]
    assert [c.type for c in meta.columns] == [None, None, None]
    assert df["c"].tolist() == [pd.NA, True]


def test_meta_has_typed_columns() -> None:
    _, meta = decode_result(result_body([("a", "integer"), ("b", None)], []))
    assert meta.columns == (
        Column("a", "integer", "a"),
        Column("b", None, "b"),
    )


def test_index_is_a_range_index() -> None:
    df, _ = decode_result(result_body([("a", "integer")], [{"a": i} for i in range(4)]))
    pd.testing.assert_index_equal(df.index, pd.RangeIndex(4))


def test_big_integers_parse_exactly_from_raw_text() -> None:
    # Hand-written text: the parser itself (not json.dumps) must keep every digit.
    body = (
        b'{"query_result":{"data":{"columns":[{"name":"n","type":"integer"}],'
        b'"rows":[{"n":18446744073709551616},{"n":-9223372036854775809},'
        b'{"n":9007199254740993}]}}}'
    )
    df, _ = decode_result(body)
    assert df["n"].tolist() == [2**64, -(2**63) - 1, 2**53 + 1]


def test_v8_nan_tokens_are_accepted() -> None:
    body = b'{"data":{"columns":[{"name":"f","type":"float"}],"rows":[{"f":1.5},{"f":null}]}}'
    df, _ = decode_result(body)
    assert df["f"].tolist()[0] == 1.5
    nan_body = b'{"data":{"columns":[{"name":"f","type":"float"}],"rows":[{"f":NaN}]}}'
    df_nan, _ = decode_result(nan_body)
    assert len(df_nan) == 1


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"<html>502</html>", "not valid JSON"),
        (  # bytes that are not UTF-8 inside a string, in a batch msgspec must look at twice
            b'{"data": {"columns": [{"name": "a", "type": "integer"}, {"name": "s", "type": null}],'
            b' "rows": [{"a": "x", "s": "\xf3\x86"}]}}',
            "not valid JSON",
        ),
        (b'{"job": {"id": "x", "status": 1}}', "job"),
        (b"[1, 2]", "query result"),
        (b'{"data": {"columns": [], "rows": [1, 2]}}', "rows"),
    ],
)
def test_bodies_that_are_not_results_raise_server_error(body: bytes, needle: str) -> None:
    with pytest.raises(ServerError, match=needle):
        decode_result(body)


def test_unknown_backend_is_a_clear_error() -> None:
    with pytest.raises(WatchError, match="numpy_nullable"):
        decode_result(result_body([("a", "integer")], []), dtype_backend="numpy")


# --------------------------------------------------------------------------- recorded samples


def test_sample_27_typed_pg(sample) -> None:
    df, meta = decode_result(sample_body(sample, "27-typed-pg-json"))
    assert meta.id == 20
    assert df.dtypes.astype(str).to_dict() == {
        "id": "Int64",
        "price": "Float64",
        "amount": "Float64",
        "flag": "boolean",
        "d": "datetime64[s]",
        "ts": "datetime64[ms]",
        "tstz": "datetime64[ms, UTC]",
        "label": "string",
        "maybe_null": "Int64",
        "big_num": "Float64",
        "big_text": "string",
        "big_int": "Int64",
        "tags": "object",
    }
    assert df["tstz"].iloc[0] == pd.Timestamp("2024-01-01T09:30:17.123", tz="UTC")
    assert df["big_int"].iloc[1] == 2**63 - 1
    assert df["maybe_null"].iloc[3] is pd.NA
    assert df["tags"].iloc[0] == {"i": 1, "even": False}
    assert df["label"].iloc[3] == "item 4: multi\nline\ntext"


def test_sample_32_pg_edge_cases(sample) -> None:
    df, _ = decode_result(sample_body(sample, "32-pg-edge-cases-json"))
    row = df.iloc[0]
    assert row["nan"] is pd.NA and row["inf"] is pd.NA
    assert row["maxdate"] == pd.Timestamp("9999-12-31")
    assert str(df["maxdate"].dtype) == "datetime64[s]"
    assert row["tstz_offset"] == pd.Timestamp("2024-02-29T18:29:59", tz="UTC")
    assert row["ts_micro"] == pd.Timestamp("2024-01-01T00:00:00.999")
    assert row["null_bool"] is pd.NA and pd.isna(row["null_date"])
    assert row["arr"] == [1, 2, 3] and row["js"] == {"a": [1, 2]}
    assert row["int64max"] == 2**63 - 1
    assert row["t"] == "23:56:51"


def test_sample_30_untyped_sqlite_is_inferred(sample) -> None:
    df, _ = decode_result(sample_body(sample, "30-untyped-sqlite-json"))
    assert df.dtypes.astype(str).to_dict() == {
        "id": "Int64",
        "price": "Float64",
        "flag": "Int64",  # SQLite booleans are 0/1: integers, not guessed booleans
        "d": "datetime64[s]",
        "ts": "datetime64[ms]",
        "label": "string",
        "maybe_null": "Int64",
        "big_text": "string",
        "big_int": "Int64",
    }
    assert df["label"].iloc[4] == "item 5: unicode: ünïcödé 日本語 🚀 € —"


def test_sample_42_tab_and_crlf_text_survive(sample) -> None:
    df, _ = decode_result(sample_body(sample, "42-range-and-multi-result"))
    assert df["label"].iloc[4] == "item 38: tab\tand\r\ncrlf"


# --------------------------------------------------------------------------- csv_loss_reason


@pytest.mark.parametrize("kind", ["integer", "float", "boolean"])
@pytest.mark.parametrize(("date_format", "time_format"), [("DD/MM/YY", "HH:mm"), ("MM/DD", "")])
def test_numbers_and_booleans_are_lossless_in_any_format(
    kind: str, date_format: str, time_format: str
) -> None:
    columns = cols([("c", kind)])
    assert csv_loss_reason(columns, date_format=date_format, time_format=time_format) is None


@pytest.mark.parametrize("date_format", ["YYYY-MM-DD", "DD/MM/YYYY", "MM.DD.YYYY"])
def test_date_with_four_digit_year_is_lossless(date_format: str) -> None:
    assert csv_loss_reason(cols([("d", "date")]), date_format=date_format, time_format="") is None


@pytest.mark.parametrize(
    ("spec", "date_format", "time_format", "needles"),
    [
        ([("d", "date")], "DD/MM/YY", "HH:mm", ["'d'", "DD/MM/YY", "2-digit year"]),
        ([("d", "date")], "MM/YYYY", "HH:mm", ["'d'", "the day"]),
        ([("d", "date")], "Do MMM YYYY", "HH:mm", ["'d'", "not translate"]),
        (
            [("ts", "datetime")],
            "DD/MM/YY",
            "HH:mm",
            ["'ts'", "DD/MM/YY HH:mm", "seconds", "milliseconds", "time zone"],
        ),
        ([("ts", "datetime")], "YYYY-MM-DD", "HH:mm:ss.SSS", ["'ts'", "time zone"]),
        ([("s", "string")], "YYYY-MM-DD", "HH:mm", ["'s'", "empty"]),
        ([("u", None), ("v", None)], "YYYY-MM-DD", "HH:mm", ["'u', 'v'", "no type"]),
        ([("x", "decimal")], "YYYY-MM-DD", "HH:mm", ["'x'", "unknown type"]),
    ],
)
def test_lossy_columns_are_named_with_what_is_lost(
    spec: list, date_format: str, time_format: str, needles: list[str]
) -> None:
    reason = csv_loss_reason(
        cols(spec + [("ok", "integer")]), date_format=date_format, time_format=time_format
    )
    assert reason is not None
    for needle in needles:
        assert needle in reason
    assert "'ok'" not in reason


def test_custom_format_keeps_seconds_but_not_zone() -> None:
    reason = csv_loss_reason(
        cols([("ts", "datetime")]), date_format="YYYY-MM-DD", time_format="HH:mm:ss.SSS"
    )
    assert reason is not None and "seconds" not in reason and "century" not in reason


# --------------------------------------------------------------------------- frame equality


LOSSLESS_SPEC = [
    ("block", "integer"),
    ("wei", "integer"),
    ("price", "float"),
    ("flag", "boolean"),
    ("d", "date"),
]
LOSSLESS_ROWS = [
    {"block": 1, "wei": 2**63 - 1, "price": 0.1, "flag": True, "d": "2024-01-02"},
    {"block": 2, "wei": 2**64, "price": 1e16, "flag": False, "d": "9999-12-31"},
    {"block": 3, "wei": UINT256_MAX, "price": 1.2345678901234569e23, "flag": None, "d": None},
    {"block": None, "wei": -(2**70), "price": None, "flag": True, "d": "0001-01-01"},
    {"block": -(2**63), "wei": None, "price": 5, "flag": False, "d": "2000-02-29"},
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("delimiter", [",", "\t"])
def test_csv_equals_json_when_lossless(backend: str, delimiter: str) -> None:
    fmt = {"date_format": "YYYY-MM-DD", "time_format": "HH:mm:ss.SSS"}
    json_df, meta = decode_result(result_body(LOSSLESS_SPEC, LOSSLESS_ROWS), dtype_backend=backend)
    body = server_csv(LOSSLESS_SPEC, LOSSLESS_ROWS, delimiter=delimiter, **fmt)
    csv_df = decode_csv(body, meta.columns, delimiter=delimiter, dtype_backend=backend, **fmt)
    pd.testing.assert_frame_equal(csv_df, json_df, check_exact=True)
    assert csv_df["wei"].tolist()[:4] == [2**63 - 1, 2**64, UINT256_MAX, -(2**70)]


@pytest.mark.parametrize("date_format", ["DD/MM/YYYY", "MM/DD/YYYY"])
def test_csv_dates_follow_the_org_format(date_format: str) -> None:
    spec, rows = [("d", "date")], [{"d": "2024-01-02"}, {"d": "9999-12-31"}, {"d": "0001-01-01"}]
    json_df, meta = decode_result(result_body(spec, rows))
    body = server_csv(spec, rows, date_format=date_format)
    csv_df = decode_csv(body, meta.columns, date_format=date_format)
    pd.testing.assert_frame_equal(csv_df, json_df)


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_csv_result_keeps_dtypes(backend: str) -> None:
    json_df, meta = decode_result(result_body(LOSSLESS_SPEC, []), dtype_backend=backend)
    body = server_csv(LOSSLESS_SPEC, [])
    csv_df = decode_csv(body, meta.columns, date_format="YYYY-MM-DD", dtype_backend=backend)
    pd.testing.assert_frame_equal(csv_df, json_df)


def test_default_org_format_refuses_dates() -> None:
    _, meta = decode_result(result_body(LOSSLESS_SPEC, LOSSLESS_ROWS))
    body = server_csv(LOSSLESS_SPEC, LOSSLESS_ROWS)
    with pytest.raises(LossyFormatError, match="'d'.*2-digit year"):
        decode_csv(body, meta.columns)
    # And the refusal is right: read naively, 9999-12-31 and 2024-01-02 are not recoverable.
    assert "31/12/99" in body.decode() and "9999" not in body.decode()


TRICKY_SPEC = [
    ("n", "integer"),
    ("s", "string"),
    ("ts", "datetime"),
    ("tstz", "datetime"),
    ("u", None),
]
TRICKY_ROWS = [
    {
        "n": 1,
        "s": 'comma, "quotes"\nnewline\r\nCR\ttab ünïcödé 🚀',
        "ts": "2024-01-01T09:30:17.123",
        "tstz": "2024-01-01T09:30:17.123Z",
        "u": True,
    },
    {"n": 2, "s": "", "ts": "9999-12-31T23:59:59", "tstz": None, "u": {"a": 1}},
    {"n": 3, "s": None, "ts": None, "tstz": "2024-03-01T00:29:59Z", "u": None},
]


@pytest.mark.parametrize(
    ("date_format", "time_format"), [("DD/MM/YY", "HH:mm"), ("YYYY-MM-DD", "HH:mm:ss.SSS")]
)
def test_tricky_result_refuses_csv_naming_every_reason(date_format: str, time_format: str) -> None:
    _, meta = decode_result(result_body(TRICKY_SPEC, TRICKY_ROWS))
    body = server_csv(TRICKY_SPEC, TRICKY_ROWS, date_format=date_format, time_format=time_format)
    with pytest.raises(LossyFormatError) as info:
        decode_csv(body, meta.columns, date_format=date_format, time_format=time_format)
    message = str(info.value)
    for needle in ("'s'", "empty", "'ts'", "'tstz'", "time zone", "'u'", "no type"):
        assert needle in message
    assert "'n'" not in message
    # The CSV really is ambiguous: the null and the empty string came out the same.
    records = list(csv.reader(io.StringIO(body.decode(), newline="")))
    assert records[2][1] == records[3][1] == ""


@pytest.mark.parametrize(
    ("csv_name", "json_name", "delimiter"),
    [
        ("28-typed-pg-csv", "27-typed-pg-json", ","),
        ("29-typed-pg-tsv", "27-typed-pg-json", "\t"),
        ("31-untyped-sqlite-csv", "30-untyped-sqlite-json", ","),
        ("33-pg-edge-cases-csv", "32-pg-edge-cases-json", ","),
        ("44-python-source-uint256-csv", "43-python-source-uint256-json", ","),
    ],
)
def test_recorded_csv_downloads_are_refused(sample, csv_name, json_name, delimiter) -> None:
    columns = json_columns(sample(json_name))
    body = sample(csv_name)["body"].encode("utf-8")
    with pytest.raises(LossyFormatError):
        decode_csv(body, columns, delimiter=delimiter)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("csv_name", "json_name", "keep"),
    [
        (
            "28-typed-pg-csv",
            "27-typed-pg-json",
            ["id", "price", "amount", "flag", "maybe_null", "big_num", "big_int"],
        ),
        ("44-python-source-uint256-csv", "43-python-source-uint256-json", ["block", "amount_wei"]),
    ],
)
def test_recorded_csv_lossless_columns_equal_json(sample, csv_name, json_name, keep, backend):
    json_df, meta = decode_result(sample_body(sample, json_name), dtype_backend=backend)
    by_name = {c.name: c for c in meta.columns}
    body = keep_csv_columns(sample(csv_name)["body"], keep)
    csv_df = decode_csv(body, [by_name[k] for k in keep], dtype_backend=backend)
    pd.testing.assert_frame_equal(csv_df, json_df[keep], check_exact=True)


def test_csv_header_must_match_columns() -> None:
    body = server_csv([("a", "integer"), ("b", "integer")], [{"a": 1, "b": 2}])
    with pytest.raises(ServerError, match="header"):
        decode_csv(body, cols([("b", "integer"), ("a", "integer")]))
    with pytest.raises(ServerError):
        decode_csv(body, cols([("a", "integer")]))


def test_csv_value_not_in_its_type_is_a_lossy_error() -> None:
    body = b"flag,n\r\nTrue,1\r\n"
    with pytest.raises(LossyFormatError, match="'flag'"):
        decode_csv(body, cols([("flag", "boolean"), ("n", "integer")]))
    bad_date = "d\r\n2024/01/02\r\n"  # str bodies are accepted too
    with pytest.raises(LossyFormatError, match="'d'"):
        decode_csv(bad_date, cols([("d", "date")]), date_format="YYYY-MM-DD")


# --------------------------------------------------------------------------- streaming


def both_ways(body: str, batch_bytes: int = 64) -> tuple[pd.DataFrame, Any]:
    """decode_result's answer, after checking read_result streams to the very same one."""
    expected, meta = _decode.decode_result(body)
    got, got_meta = read_result(body.encode(), batch_bytes=batch_bytes)
    pd.testing.assert_frame_equal(got, expected)
    assert got_meta == meta
    return got, meta


@pytest.mark.parametrize("batch_bytes", [1, 50, 200, 1 << 20])
def test_stream_cut_inside_strings_and_nested_values(batch_bytes: int) -> None:
    tricky = ["},{", '"}, {"', "}]", "x},{y}, {z", "\\", '"},{"']
    rows = [
        {"id": i, "label": tricky[i % len(tricky)], "js": [{"a": i}, {"b": "},{"}]}
        for i in range(40)
    ]
    body = result_body([("id", "integer"), ("label", "string"), ("js", None)], rows)
    df, _ = both_ways(body, batch_bytes)
    assert df["label"].tolist() == [tricky[i % len(tricky)] for i in range(40)]
    assert df["js"].iloc[3] == [{"a": 3}, {"b": "},{"}]


def test_stream_big_int_in_a_later_batch_keeps_every_value_exact() -> None:
    values = list(range(30)) + [UINT256_MAX, -(2**70)] + list(range(10))
    body = result_body([("n", "integer")], [{"n": v} for v in values])
    df, _ = both_ways(body, batch_bytes=40)
    assert df["n"].dtype == object
    assert df["n"].tolist() == values
    assert all(type(v) is int for v in df["n"])


def test_stream_value_defying_its_type_in_a_later_batch_sends_column_to_inference() -> None:
    rows = [{"n": i, "d": "2024-01-02", "f": 1.5} for i in range(30)]
    rows.append({"n": "text", "d": "not a date", "f": 2**60 + 1})
    body = result_body([("n", "integer"), ("d", "date"), ("f", "float")], rows)
    df, _ = both_ways(body, batch_bytes=40)
    assert df["n"].tolist()[-2:] == [29, "text"]
    assert df["d"].iloc[-1] == "not a date"
    assert df["f"].iloc[-1] == 2**60 + 1  # never rounded to a float


def test_stream_float_column_ints_become_floats_unless_inexact() -> None:
    exact = [{"f": i} for i in range(20)] + [{"f": 2**53}, {"f": None}, {"f": 0.25}]
    df, _ = both_ways(result_body([("f", "float")], exact), batch_bytes=40)
    assert str(df["f"].dtype) == "Float64"
    assert df["f"].iloc[-3] == 2.0**53 and df["f"].isna().sum() == 1

    inexact = [{"f": i} for i in range(20)] + [{"f": -(2**53) - 1}, {"f": 0.25}]
    df, _ = both_ways(result_body([("f", "float")], inexact), batch_bytes=40)
    assert df["f"].dtype == object
    assert df["f"].iloc[-2] == -(2**53) - 1 and type(df["f"].iloc[-2]) is int


def test_stream_integer_batches_keep_int64_limits_nulls_and_big_ints() -> None:
    values = [2**63 - 1, -(2**63), 0, 7] * 5 + [None, 1] + [3] * 10 + [2**63, 4]
    df, _ = both_ways(result_body([("n", "integer")], [{"n": v} for v in values]), batch_bytes=60)
    assert df["n"].dtype == object and df["n"].tolist() == values
    df, _ = both_ways(
        result_body([("n", "integer")], [{"n": v} for v in values[:-2]]), batch_bytes=60
    )
    assert str(df["n"].dtype) == "Int64"
    assert df["n"].tolist()[:4] == [2**63 - 1, -(2**63), 0, 7] and df["n"].isna().sum() == 1


def test_stream_numeric_columns_are_writable_and_own_their_memory() -> None:
    rows = [{"n": i, "f": i / 2, "m": None if i % 3 else i} for i in range(30)]
    body = result_body([("n", "integer"), ("f", "float"), ("m", "integer")], rows)
    df, _ = both_ways(body, batch_bytes=60)
    df.loc[0, "n"] = 99
    df.loc[1, "f"] = 0.125
    df.loc[1, "m"] = 5
    assert df["n"].tolist()[:2] == [99, 1] and df["f"].tolist()[:2] == [0.0, 0.125]
    assert df["m"].tolist()[:4] == [0, 5, pd.NA, 3]


def test_stream_zoned_datetimes_across_batches_are_utc() -> None:
    rows = [{"t": f"2024-01-01T00:00:{i:02d}+01:00"} for i in range(20)] + [{"t": None}]
    df, _ = both_ways(result_body([("t", "datetime")], rows), batch_bytes=40)
    assert str(df["t"].dtype) == "datetime64[ms, UTC]"
    assert df["t"].iloc[0] == pd.Timestamp("2023-12-31T23:00:00", tz="UTC")


def test_stream_mixed_naive_and_utc_datetimes_across_batches_stay_text() -> None:
    rows = [{"t": "2024-01-01T00:00:00"} for _ in range(20)] + [{"t": "2024-01-01T00:00:00Z"}]
    df, _ = both_ways(result_body([("t", "datetime")], rows), batch_bytes=30)
    assert df["t"].dtype == object and df["t"].iloc[-1] == "2024-01-01T00:00:00Z"


def test_stream_untyped_ints_then_floats_across_batches() -> None:
    rows = [{"x": i} for i in range(20)] + [{"x": 0.5}, {"x": None}]
    df, _ = both_ways(result_body([("x", None)], rows), batch_bytes=20)
    assert str(df["x"].dtype) == "Float64"


def test_stream_tail_holding_brackets_in_strings() -> None:
    rows = [{"a": i} for i in range(10)]
    body = result_body([("a", "integer")], rows, log=["}]", "{}]}"])
    df, meta = both_ways(body, batch_bytes=16)
    assert df["a"].tolist() == list(range(10)) and meta.id == 7


@pytest.mark.parametrize(
    "body",
    [
        # rows before columns: not the layout the batches need; the whole-body path reads it
        '{"query_result": {"data": {"rows": [{"a": 1}], "columns": [{"name": "a", '
        '"type": "integer"}]}, "retrieved_at": "x"}}',
        # duplicate column names
        '{"data": {"columns": [{"name": "a", "type": "integer"}, {"name": "a", "type": null}],'
        ' "rows": [{"a": 1}]}}',
        # pretty-printed, with newlines between rows
        '{"query_result": {"data": {"columns": [{"name": "a", "type": "float"}],\n "rows": '
        '[\n  {"a": 1.5},\n  {"a": NaN},\n  {"a": 2}\n ]}}}',
        # empty result
        '{"query_result": {"data": {"columns": [{"name": "a", "type": "integer"}], "rows": []}}}',
    ],
)
def test_stream_unusual_layouts_match_decode_result(body: str) -> None:
    both_ways(body, batch_bytes=8)


def test_stream_truncated_body_is_a_server_error() -> None:
    body = result_body([("a", "integer")], [{"a": i} for i in range(50)])
    with pytest.raises(ServerError):
        read_result(body.encode()[:-40], batch_bytes=32)


def test_read_result_reads_and_closes_a_chunk_source() -> None:
    body = result_body([("a", "integer")], [{"a": i} for i in range(100)]).encode()

    class Source:
        closed = False

        def __iter__(self):
            return (body[i : i + 100] for i in range(0, len(body), 100))

        def close(self) -> None:
            self.closed = True

    source = Source()
    df, _ = read_result(source, batch_bytes=256)
    assert df["a"].tolist() == list(range(100)) and source.closed


def test_a_float_column_with_an_int_a_double_cannot_hold_stays_exact_object():
    body = {
        "query_result": {
            "data": {
                "columns": [{"name": "x", "type": "float"}],
                "rows": [{"x": 1}, {"x": 2**60 + 1}, {"x": None}],
            }
        }
    }
    frame, _ = decode_result(json.dumps(body))
    assert frame["x"].dtype == object
    assert frame["x"].tolist()[:2] == [1, 2**60 + 1]


def test_stream_big_ints_with_null_only_and_int64_batches_stay_exact() -> None:
    values = [None] * 30 + list(range(30)) + [UINT256_MAX, None, -(2**70)] + [None] * 20 + [5]
    body = result_body([("n", "integer")], [{"n": v} for v in values])
    for batch_bytes in (20, 60, 1 << 20):
        df, _ = both_ways(body, batch_bytes=batch_bytes)
        assert df["n"].dtype == object
        assert df["n"].tolist() == values
        assert [type(v) for v in df["n"] if v is not None] == [int] * 33


def test_stream_row_longer_than_the_cut_search_window() -> None:
    # The cut search looks at the last 64 KB first; a longer row must still be cut before.
    long_text = "x},{" * 40_000  # 160 KB of text that looks like row boundaries
    rows = [{"n": i, "s": "short"} for i in range(50)]
    rows += [{"n": 50, "s": long_text}] + [{"n": i, "s": "y"} for i in range(51, 60)]
    body = result_body([("n", "integer"), ("s", "string")], rows)
    for batch_bytes in (100_000, 170_000, 300_000):
        df, _ = both_ways(body, batch_bytes=batch_bytes)
        assert df["n"].tolist() == list(range(60))
        assert df["s"].iloc[50] == long_text


@pytest.mark.parametrize(
    "module",
    [
        "watch_pandas._decode",
        "watch_pandas._decode._json",
        "watch_pandas._decode._dtypes",
        "watch_pandas._decode._csv",
        "watch_pandas._rows",
        "watch_pandas._cache",
        "watch_pandas._cache._encoding",
        "watch_pandas._cache._store",
        "watch_pandas._cache._rules",
    ],
)
def test_each_decoding_module_imports_first_in_a_fresh_interpreter(module) -> None:
    # An import cycle shows only when a module is the first one imported.
    done = subprocess.run(
        [sys.executable, "-c", f"import {module}"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
