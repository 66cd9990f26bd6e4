"""Tests for watch_pandas._output: decoded frames → pyarrow Tables and polars DataFrames.

Every column the decoder produces (test_frames' matrices of typed and untyped columns) must
come out with the same values, missing in the same places, as the pandas frame; integers
beyond int64 stay exact (Decimal when they fit 38 digits, else their decimal text with the
column's meaning in the field metadata).
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from test_frames import TYPED_CASES, UNTYPED_CASES, result_body

from watch_pandas import _output
from watch_pandas._decode import read_result
from watch_pandas.errors import ConfigError

UINT256_MAX = 2**256 - 1


def _frame(kind: str | None, values: list[Any], **kwargs: Any) -> pd.DataFrame:
    body = result_body([("c", kind)], [{"c": v} for v in values])
    frame, _ = read_result(body, dtype_backend="pyarrow", **kwargs)
    frame.attrs["watch"] = {"query_id": 3, "parameters": {"day": "2024-01-01"}}
    return frame


def _plain(values: list[Any]) -> list[Any]:
    """pandas' values as Python values (missing → None, Timestamps → datetimes)."""
    out = []
    for v in values:
        if v is None or (not isinstance(v, (list, dict)) and pd.isna(v)):
            out.append(None)
        elif isinstance(v, pd.Timestamp):
            out.append(v.to_pydatetime())
        else:
            out.append(v)
    return out


@pytest.mark.parametrize("case", sorted(TYPED_CASES))
def test_typed_columns_are_the_decoders_arrow_arrays(case: str) -> None:
    kind, values, _, arrow_type = TYPED_CASES[case]
    frame = _frame(kind, values)
    table = _output.to_arrow(frame)
    assert table.schema.field("c").type == arrow_type
    assert table.column("c").to_pylist() == _plain(frame["c"].tolist())


def test_arrow_columns_share_the_decoders_buffers() -> None:
    frame = _frame("integer", list(range(1000)))
    table = _output.to_arrow(frame)
    decoded = frame["c"].array.__arrow_array__()  # the arrays pandas wraps
    assert [c.buffers()[1].address for c in table.column("c").chunks] == [
        c.buffers()[1].address for c in decoded.chunks
    ]


@pytest.mark.parametrize(("values", "infer", "dtype", "expected"), UNTYPED_CASES)
def test_untyped_columns_keep_every_value(values, infer, dtype, expected) -> None:
    frame = _frame(None, values, infer_untyped=infer)
    table = _output.to_arrow(frame)
    got = table.column("c").to_pylist()
    meaning = (table.schema.field("c").metadata or {}).get(b"watch_pandas.type")
    if meaning == b"json":
        got = [None if v is None else json.loads(v) for v in got]
    elif meaning == b"bigint":
        assert all(v is None or v == int(v) for v in got)
        got = [None if v is None else int(v) for v in got]
    assert got == _plain(frame["c"].tolist())


@pytest.mark.parametrize(
    "values",
    [[1, None, 2**64, -(2**100)], [10**38 - 1, -(10**38 - 1)], [2**63]],
)
def test_big_integers_fitting_38_digits_are_exact_decimals(values: list) -> None:
    table = _output.to_arrow(_frame("integer", values))
    assert table.schema.field("c").type == pa.decimal128(38, 0)
    assert table.schema.field("c").metadata == {b"watch_pandas.type": b"bigint"}
    assert table.column("c").to_pylist() == [None if v is None else Decimal(v) for v in values]


def test_integers_beyond_38_digits_are_decimal_text_said_so_in_the_field() -> None:
    values = [UINT256_MAX, None, 10**38, -5]
    table = _output.to_arrow(_frame("integer", values))
    field = table.schema.field("c")
    assert field.type == pa.string()
    assert field.metadata == {b"watch_pandas.type": b"bigint-decimal-text"}
    assert [None if v is None else int(v) for v in table.column("c").to_pylist()] == values


def test_nested_cells_are_json_text_said_so_in_the_field() -> None:
    values = [{"a": [1, 2], "ü": None}, [1, "x"], None, "plain", 2**70]
    table = _output.to_arrow(_frame(None, values))
    assert table.schema.field("c").metadata == {b"watch_pandas.type": b"json"}
    assert [None if v is None else json.loads(v) for v in table.column("c").to_pylist()] == values


def test_provenance_is_json_schema_metadata() -> None:
    frame = _frame("integer", [1])
    table = _output.to_arrow(frame)
    assert json.loads(table.schema.metadata[b"watch"]) == frame.attrs["watch"]


def test_duplicate_column_names_are_kept_in_arrow() -> None:
    body = result_body([("a", "integer"), ("b", "string")], [{"a": 1, "b": "x"}])
    frame, _ = read_result(body, dtype_backend="pyarrow")
    frame.columns = ["a", "a"]
    assert _output.to_arrow(frame).column_names == ["a", "a"]


# --------------------------------------------------------------------------- polars


@pytest.mark.parametrize("case", sorted(TYPED_CASES))
def test_polars_typed_columns_have_the_same_values(case: str) -> None:
    kind, values, _, _ = TYPED_CASES[case]
    frame = _frame(kind, values)
    df = _output.to_polars(frame)
    assert df["c"].to_list() == _output.to_arrow(frame).column("c").to_pylist()


def test_polars_big_integers_are_exact() -> None:
    import polars as pl

    small = _output.to_polars(_frame("integer", [2**64, None]))
    assert small.schema["c"] == pl.Decimal(38, 0)
    assert small["c"].to_list() == [Decimal(2**64), None]
    big = _output.to_polars(_frame("integer", [UINT256_MAX, 1]))
    assert big.schema["c"] == pl.String
    assert big["c"].to_list() == [str(UINT256_MAX), "1"]


def test_polars_refuses_duplicate_names_saying_what_to_do() -> None:
    body = result_body([("a", "integer"), ("b", "integer")], [{"a": 1, "b": 2}])
    frame, _ = read_result(body, dtype_backend="pyarrow")
    frame.columns = ["id", "id"]
    with pytest.raises(ConfigError, match=r"'id'.*(AS|alias).*output='arrow'"):
        _output.to_polars(frame)


def test_polars_missing_names_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "polars", None)
    with pytest.raises(ConfigError, match=r'pip install "watch-pandas\[polars\]"'):
        _output.check_output("polars")


@pytest.mark.parametrize("bad", ["Arrow", "numpy", None, 1])
def test_unknown_output_is_refused_with_the_choices(bad: object) -> None:
    with pytest.raises(ConfigError, match="'pandas', 'arrow' or 'polars'"):
        _output.check_output(bad)


def test_pandas_output_is_the_frame_itself() -> None:
    frame = _frame("integer", [1])
    assert _output.convert(frame, "pandas") is frame


def test_tuples_are_arrow_lists_and_mixed_or_nested_tuples_json() -> None:
    frame = pd.DataFrame(
        {
            "names": pd.Series([("WETH",), None, ("DAI", "USDC")], dtype=object),
            "ids": pd.Series([(1, 2), (3,), ()], dtype=object),
            "mixed": pd.Series([("a", 1), ("b",), None], dtype=object),
        }
    )
    table = _output.to_arrow(frame)
    assert table.schema.field("names").type == pa.list_(pa.string())
    assert table.column("names").to_pylist() == [["WETH"], None, ["DAI", "USDC"]]
    assert table.schema.field("ids").type == pa.list_(pa.int64())
    assert table.column("ids").to_pylist() == [[1, 2], [3], []]
    assert table.schema.field("mixed").metadata == {_output.TYPE_KEY: b"json"}
    assert table.column("mixed").to_pylist() == ['["a", 1]', '["b"]', None]


# Every server column type: the column of an empty result has the type of a non-empty one's
# (a datetime's zone and an untyped column's type come from values only: not compared),
# fresh and from the local cache.
SERVER_TYPES = "i INTEGER, f DOUBLE PRECISION, b BOOLEAN, s VARCHAR(8), d DATE, ts TIMESTAMP"


@pytest.mark.parametrize("output", ["numpy_nullable", "pyarrow", "arrow", "polars"])
def test_an_empty_result_has_the_types_of_a_non_empty_one_for_every_server_type(
    local_watch, output, tmp_path
) -> None:
    import watch_pandas as wp

    source = local_watch.add_data_source("pg", typed=True)
    local_watch.execute_sql(
        source,
        f"CREATE TABLE t (k INTEGER, {SERVER_TYPES}); INSERT INTO t VALUES "
        "(1, 1, 1.5, 1, 'a', '2024-01-02', '2024-01-02 03:04:05');",
    )
    query = local_watch.add_query(
        "SELECT i, f, b, s, d, ts FROM t WHERE k = {{ k }}",
        source,
        parameters=[{"name": "k", "title": "k", "type": "number", "value": 1}],
    )
    kw: dict[str, Any] = {"url": local_watch.url, "api_key": local_watch.admin_key}
    kw["cache_dir"] = tmp_path
    kw.update({"output": output} if output in ("arrow", "polars") else {"dtype_backend": output})

    def type_names(result: Any) -> list[str]:
        if output == "arrow":
            return [str(field.type) for field in result.schema]
        if output == "polars":
            return [str(t) for t in result.schema.values()]
        return [str(t) for t in result.dtypes]

    def types(k: int) -> list[str]:
        fresh = wp.read_watch_query(query, {"k": k}, max_age=0, progress=False, **kw)
        cached = wp.read_watch_query(query, {"k": k}, progress=False, **kw)
        assert type_names(cached) == type_names(fresh)
        return type_names(fresh)

    assert types(2) == types(1)
