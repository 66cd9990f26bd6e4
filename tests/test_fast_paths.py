"""The decode's shortcuts for untyped columns against the careful rule they stand in for.

- An untyped column of integers, some beyond int64, goes the way a typed integer column with
  such values goes (its batches as ``ExactInts``), not through a second look at every value.
- An untyped text column is checked on a sample first: a sampled value that is neither an ISO
  date nor an ISO datetime settles it (text), and a column of dates is parsed by Arrow's date
  cast, which takes only ``YYYY-MM-DD``, instead of being pattern-matched whole.

Every read here is made five ways (the whole body; streamed with the compiled scanner on one
and three workers; with msgspec alone on one and three) and compared with an independent
spelling of the rule (docs: ``watch_pandas/_decode/_dtypes.py``, untyped inference).
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, settings

from watch_pandas import _rows
from watch_pandas._decode import _workers, decode_result, read_result

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
WAYS = ["decode_result", "scanner_1", "scanner_3", "msgspec_1", "msgspec_3"]

settings.register_profile("fast_paths", deadline=None, suppress_health_check=[HealthCheck.too_slow])


def body_of(values: list[Any]) -> bytes:
    data = {"columns": [{"name": "u", "type": None}], "rows": [{"u": v} for v in values]}
    return json.dumps({"query_result": {"id": 1, "data": data}}).encode()


def read_way(way: str, body: bytes, monkeypatch: pytest.MonkeyPatch) -> pd.Series:
    if way == "decode_result":
        return decode_result(body)[0]["u"]
    with monkeypatch.context() as patch:
        patch.setenv(_workers.ENV_WORKERS, way[-1])
        if way.startswith("msgspec"):
            patch.setattr(_rows, "_scan_rows", None)
        chunks = (body[i : i + 61] for i in range(0, len(body), 61))
        return read_result(chunks, batch_bytes=90)[0]["u"]  # a few rows per batch


def typed_values(series: pd.Series) -> list[tuple[type, Any]]:
    return [(type(v), v) for v in series.astype(object).where(series.notna(), None)]


def assert_all_ways(values: list[Any], monkeypatch: pytest.MonkeyPatch) -> pd.Series:
    """The column read every way, all alike (dtype, values and their Python types)."""
    body = body_of(values)
    first = read_way(WAYS[0], body, monkeypatch)
    for way in WAYS[1:]:
        got = read_way(way, body, monkeypatch)
        assert str(got.dtype) == str(first.dtype), way
        assert typed_values(got) == typed_values(first), way
    return first


# --------------------------------------------------------------------------- big integers


@pytest.mark.skipif(_rows._scan_rows is None, reason="the compiled scanner is not built")
def test_an_untyped_batch_of_ints_beyond_int64_is_exact_ints() -> None:
    decoder = _rows.RowDecoder(["u"], [None])
    part = decoder.parts(b'[{"u": 9223372036854775808}, {"u": null}, {"u": -1}]')[0]
    assert isinstance(part, _rows.ExactInts)
    assert part == [2**63, None, -1]


def test_an_untyped_list_of_ints_beyond_int64_is_exact_ints() -> None:
    part = _rows.batch_part([-(2**63) - 1, None, 5], None, checked=False)
    assert isinstance(part, _rows.ExactInts)
    assert _rows.batch_part([2**64, True], None, checked=True) == [2**64, True]  # not all ints


BIG_INT_CASES = {
    "int64 bounds": [INT64_MAX, INT64_MIN, None],
    "one past the top": [1, 2, INT64_MAX + 1, None],
    "one past the bottom": [INT64_MIN - 1, 0],
    "big in one batch only": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 2**70, 11, 12, 13, 14, 15, 16],
    "all null batches between": [None] * 12 + [2**64] + [None] * 12 + [3],
    "with a bool": [2**64, True, 1],
    "with a float": [2**64, 1.5],
    "with text that looks like one": [2**64, "18446744073709551616"],
    "with a nested value": [2**64, [1]],
    "huge": [10**300, -(10**300)],
}


@pytest.mark.parametrize("values", BIG_INT_CASES.values(), ids=BIG_INT_CASES.keys())
def test_untyped_big_integers_read_alike_every_way(values: list[Any], monkeypatch) -> None:
    series = assert_all_ways(values, monkeypatch)
    fits = all(type(v) is int and INT64_MIN <= v <= INT64_MAX for v in values if v is not None)
    assert str(series.dtype) == ("Int64" if fits else "object")
    got = [None if v is pd.NA else v for v in series.tolist()]
    assert got == values and [type(v) for v in got] == [type(v) for v in values]  # exact
