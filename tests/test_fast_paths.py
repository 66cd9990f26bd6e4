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
import re
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from _slow import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from watch_pandas import _rows
from watch_pandas._decode import _dtypes, _workers, decode_result, read_result

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


# --------------------------------------------------------------------------- dates in text


def reference_rule(values: list[Any]) -> tuple[str, list[Any]]:
    """The untyped rule for a column of text, spelled out value by value with Python's re
    and datetime (not Arrow): all ISO dates → dates; all ISO datetimes → datetimes; else
    text. Answers a coarse kind and the values; "arrow" where Arrow's parser decides."""
    date = re.compile(r"\d{4}-\d{2}-\d{2}\Z", re.ASCII)
    stamp = re.compile(
        r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?\Z", re.ASCII
    )
    texts = [v for v in values if v is not None]
    if texts and all(date.match(v) for v in texts):
        if all(_real_day(v) for v in texts):
            return "date", values
        return "text", values  # 2024-02-30: not a date after all
    if texts and all(stamp.match(v) for v in texts):
        return "arrow", values  # zones, 24:00, leap seconds: Arrow's timestamp cast decides
    return "text", values


def _real_day(text: str) -> bool:
    """A day of the proleptic Gregorian calendar, year 0000 included (Arrow takes it)."""
    year, month, day = map(int, text.split("-"))
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    days = [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    return 1 <= month <= 12 and 1 <= day <= days[month - 1]


def check_text_column(values: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    series = assert_all_ways(values, monkeypatch)
    kind, expected = reference_rule(values)
    if kind == "text":
        assert str(series.dtype) == "string"
        assert [None if v is pd.NA else v for v in series.tolist()] == expected
    elif kind == "date":
        assert str(series.dtype) == "datetime64[s]"
        days = np.datetime_as_string(series.to_numpy(), unit="D")
        assert [None if d == "NaT" else str(d) for d in days] == expected
    else:
        assert str(series.dtype) == "string" or str(series.dtype).startswith("datetime64")


DATE_LIKE = [
    "2024-01-01", "2024-02-29", "2023-02-29", "2024-02-30", "2024-13-01", "2024-00-10",
    "2024-01-00", "0000-01-01", "9999-12-31", "2024-1-01", "+024-01-01", " 024-01-01",
    "2024/01/01", "2024-01-0a", "\uff12\uff10\uff12\uff14-01-01", "20240101", "2024-01-01 ",
    "2024-01-01\n", "12024-01-01", "2024-01-01T00", "2024-01-01Z", "2024-01-01 24:00",
    "2024-01-01 24:00:00", "2016-12-31T23:59:60", "2016-12-31 23:59:60Z", "2024-01-01T10:00+05:30",
    "2024-01-01T10:00:00+0530", "2024-01-01T10:00:00.123456789Z", "2024-01-01t10:00",
    "2024-01-01 10:00:00.", "1e5", "0x10", "12", "-1", "NaN", "", "2024-01-01 10:00:00",
]  # fmt: skip


@pytest.mark.parametrize("odd", DATE_LIKE)
@pytest.mark.parametrize("where", ["first", "after the sample"])
def test_dates_with_one_odd_value_read_alike_every_way(odd: str, where: str, monkeypatch) -> None:
    dates = [f"2024-01-{d:02d}" for d in range(1, 29)] * 4 + [None]
    values = [odd, *dates] if where == "first" else [*dates, odd]
    check_text_column(values, monkeypatch)


@pytest.mark.parametrize("odd", DATE_LIKE)
def test_datetimes_with_one_odd_value_read_alike_every_way(odd: str, monkeypatch) -> None:
    stamps = [f"2024-01-{d:02d} 10:{d:02d}:00" for d in range(1, 29)] * 4
    check_text_column([*stamps, None, odd], monkeypatch)


@settings(settings.get_profile("fast_paths"), max_examples=examples(60))
@given(
    head=st.lists(st.sampled_from(DATE_LIKE[:3] + [None]), max_size=80),
    tail=st.lists(st.one_of(st.sampled_from(DATE_LIKE + [None]), st.text(max_size=12))),
)
def test_text_columns_follow_the_rule_every_way(head: list[Any], tail: list[Any]) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        values = head + tail
        if any(v is not None for v in values):
            check_text_column(values, monkeypatch)


@pytest.fixture
def regex_lengths(monkeypatch) -> list[int]:
    """How many values each pattern match looked at."""
    lengths: list[int] = []
    match = pc.match_substring_regex

    def spy(strings: Any, *args: Any, **kwargs: Any) -> Any:
        lengths.append(len(strings))
        return match(strings, *args, **kwargs)

    monkeypatch.setattr(pc, "match_substring_regex", spy)
    return lengths


def test_text_that_is_not_dated_is_settled_on_a_sample(regex_lengths) -> None:
    strings = pa.array([f"item {i}: comma, separated" for i in range(5000)])
    assert _dtypes.infer_temporal(strings) is strings
    assert regex_lengths and max(regex_lengths) <= _dtypes.TEMPORAL_SAMPLE


def test_a_column_of_dates_is_parsed_without_matching_every_value(regex_lengths) -> None:
    strings = pa.array([f"2024-01-{i % 28 + 1:02d}" if i % 9 else None for i in range(5000)])
    dates = _dtypes.infer_temporal(strings)
    assert dates.type == pa.date32()
    assert dates.to_pylist() == pc.cast(strings, pa.date32()).to_pylist()
    assert max(regex_lengths) <= _dtypes.TEMPORAL_SAMPLE


# --------------------------------------------------------------------------- memory


_POOLS: list[Any] = []  # kept for the process: arrays made in a call may outlive it


def arrow_peak(call: Any) -> tuple[Any, int]:
    """What ``call()`` answers and the most Arrow memory its kernels held at once (the
    default pool, tracked while it runs)."""
    pool = pa.proxy_memory_pool(pa.system_memory_pool())
    _POOLS.append(pool)
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pool)
    try:
        return call(), pool.max_memory()
    finally:
        pa.set_memory_pool(previous)


def test_inferring_text_never_copies_the_column() -> None:
    strings = pa.array([None if i % 7 == 0 else f"item {i}: comma, separated" for i in range(9000)])
    inferred, peak = arrow_peak(lambda: _dtypes.infer_temporal(strings))
    assert inferred is strings
    assert peak < strings.nbytes / 4


def test_parsing_zoned_datetimes_never_copies_the_column() -> None:
    stamps = [None if i % 29 == 0 else f"2024-01-02T10:00:{i % 60:02d}.123Z" for i in range(9000)]
    strings = pa.array(stamps)
    parsed, peak = arrow_peak(lambda: _dtypes.parse_iso_datetimes(strings))
    assert parsed.type == pa.timestamp("ms", tz="UTC") and parsed.null_count == strings.null_count
    assert peak < strings.nbytes  # the answer (8 bytes a value) and no copy


# --------------------------------------------------------------------------- datetimes in text


def careful_parse(strings: Any) -> Any:
    """The datetime parse as it was before its shortcuts: count the zoned values with the
    pattern, then cast naive or UTC, ms → us → ns (mixed → the text as a list)."""
    n_valid = len(strings) - strings.null_count
    n_zoned = pc.sum(pc.match_substring_regex(strings, _dtypes._HAS_ZONE)).as_py() or 0
    if 0 < n_zoned < n_valid:
        return strings.to_pylist()
    for unit in ("ms", "us", "ns"):
        try:
            return pc.cast(strings, pa.timestamp(unit, tz="UTC" if n_zoned else None))
        except pa.ArrowInvalid:
            continue
    return None


STAMP_LIKE = [
    "2024-01-02 10:20:30", "2024-01-02T10:20:30", "2024-01-02 10:20", "2024-01-02 10:20:30.1",
    "2024-01-02 10:20:30.12", "2024-01-02 10:20:30.123", "2024-01-02 10:20:30.123456",
    "2024-01-02T10:20:30Z", "2024-01-02T10:20:30.123Z", "2024-01-02T10:20:30+05:30",
    "2024-01-02T10:20:30-0800", "2024-01-02T10:20:30+05", "2024-01-02 10:20+05",
    "2024-01-02t10:20:30", "2024-01-02_10:20:30", "2024/01/02 10:20:30", "2024-01-02 10-20-30",
    "2024-01-02 1020:30", "2024-01-02 10:2030", "2024-01-02 10:20:30,1", "2024-01-02 24:00:00",
    "2016-12-31 23:59:60", "2024-02-30 10:20:30", "2024-01-02 10", "2024-01-02",
    "2024-01-02 101020.5",
]  # fmt: skip


def as_arrow(values: list[Any], chunks: int, sliced: bool) -> Any:
    """The values as Arrow strings: one array, a sliced one, or a chunked array."""
    if sliced:
        return pa.array(["x", *values, "y"]).slice(1, len(values))
    if chunks > 1:
        size = max(1, len(values) // chunks)
        return pa.chunked_array(
            [pa.array(values[i : i + size], pa.string()) for i in range(0, len(values), size)],
            type=pa.string(),
        )
    return pa.array(values, pa.string())


def same(got: Any, expected: Any) -> bool:
    if isinstance(expected, list) or expected is None:
        return got == expected
    return (
        got is not None
        and not isinstance(got, list)
        and got.type == expected.type
        and (got.to_pylist() == expected.to_pylist())
    )


@settings(settings.get_profile("fast_paths"), max_examples=examples(200))
@given(
    usual=st.sampled_from(STAMP_LIKE[:10]),
    odd=st.lists(st.sampled_from([*STAMP_LIKE, None]), max_size=3),
    count=st.integers(1, 40),
    where=st.integers(0, 40),
    chunks=st.integers(1, 3),
    sliced=st.booleans(),
)
def test_datetime_shortcuts_answer_what_the_careful_path_does(
    usual: str, odd: list[Any], count: int, where: int, chunks: int, sliced: bool
) -> None:
    values = [usual if i % 5 else None for i in range(count)]
    values[where % (count + 1) : where % (count + 1)] = odd
    strings = as_arrow(values, chunks, sliced)
    assert same(_dtypes.parse_iso_datetimes(strings), careful_parse(strings)), values
    assert same(_dtypes.infer_temporal(strings), _dtypes._infer_temporal_whole(strings)), values


def test_a_null_holding_bytes_takes_the_careful_way() -> None:
    """Arrow allows a null slot to hold bytes; the separators are then not read in place."""
    text = b"2024-01-02 10:20:30" * 2
    offsets = np.array([0, 19, 38], dtype=np.int32)
    strings = pa.Array.from_buffers(
        pa.string(),
        2,
        [
            pa.py_buffer(np.packbits([1, 0], bitorder="little")),
            pa.py_buffer(offsets),
            pa.py_buffer(text),
        ],  # fmt: skip
    )
    assert strings.to_pylist() == ["2024-01-02 10:20:30", None]
    assert _dtypes._fixed_width_datetimes(strings) is None
    assert _dtypes.infer_temporal(strings).to_pylist() == [
        pd.Timestamp("2024-01-02 10:20:30").to_pydatetime(),
        None,
    ]


def test_a_column_of_datetimes_is_parsed_without_matching_every_value(regex_lengths) -> None:
    stamps = [None if i % 9 == 0 else f"2024-01-02 10:{i % 60:02d}:00" for i in range(5000)]
    parsed = _dtypes.infer_temporal(pa.array(stamps))
    assert parsed.type == pa.timestamp("ms") and parsed.null_count == stamps.count(None)
    assert max(regex_lengths) <= _dtypes.TEMPORAL_SAMPLE


def test_zoned_datetimes_are_parsed_without_matching_every_value(regex_lengths) -> None:
    stamps = [None if i % 9 == 0 else f"2024-01-02T10:{i % 60:02d}:00.5Z" for i in range(5000)]
    parsed = _dtypes.parse_iso_datetimes(pa.array(stamps))
    assert parsed.type == pa.timestamp("ms", tz="UTC")
    assert regex_lengths == []  # the first value is looked at with Python's re, not Arrow's
