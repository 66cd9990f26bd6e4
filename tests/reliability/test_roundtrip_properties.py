"""Property-based round trips: random typed tables written into the local server's typed data
source and read back through every path — JSON (read_watch_query, run_sql), the local cache
(second read) and CSV where the client accepts it — give identical values and dtypes, or a
documented refusal (LossyFormatError for CSV; NaN/±inf arrive as NULL because the server
sends them as JSON null, docs/protocol.md#value-encoding).

The expected frame is built here from the generated Python values and the dtype table
(docs/guide.md#column-types), never from the code under test. One server per module; many
rows per example.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import sqlite3
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _slow import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from watch_pandas import WatchClient, read_watch_query, run_sql
from watch_pandas._decode import decode_csv, decode_result
from watch_pandas.errors import LossyFormatError
from watch_pandas.models import Column
from watch_pandas.testing import LocalWatch

# Each example is a table written, executed and read over HTTP (~0.3 s): 30 by default reach
# every column kind with NULLs, big ints, far dates and odd text; the slow run tries 300.
ROUND_TRIPS = settings(
    max_examples=examples(30),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
INT64 = (-(2**63), 2**63 - 1)
_table_ids = itertools.count(1)

# -- value strategies ----------------------------------------------------------------------
ints = st.integers(*INT64)
huge_ints = st.one_of(
    st.integers(-(2**256), 2**256),
    st.sampled_from([2**63, -(2**63) - 1, 2**70, -(2**70), 2**256 - 1, -(2**256), 2**64]),
    ints,
)
floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([-0.0, 5e-324, 1.7976931348623157e308, -1.7976931348623157e308, 2.0**53 + 2]),
)
texts = st.one_of(
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
        max_size=30,
    ),
    st.sampled_from(
        [
            "",
            " ",
            '"',
            "'",
            ",",
            '","',
            "a,b",
            "\r\n",
            "\n",
            "\r",
            "\t",
            "\ud7ff",
            "\ue000",
            "\uffff",
            "\U0010ffff",
            "שלום עולם",
            "\u202eevil",
            "NULL",
            "null",
            "None",
            '🦄,"\n',
        ]
    ),
)
dates = st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31))
# Milliseconds only: the server truncates to milliseconds (docs/protocol.md#value-encoding).
naive_times = st.builds(
    lambda d, ms: d.replace(microsecond=(d.microsecond // 1000) * 1000),
    st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59, 59)),
    st.none(),
)
# Kept a day away from year 1 and 9999 so the shift to UTC cannot leave the calendar.
aware_times = st.builds(
    lambda d, minutes: d.replace(microsecond=(d.microsecond // 1000) * 1000).replace(
        tzinfo=dt.timezone(dt.timedelta(minutes=minutes))
    ),
    st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30)),
    st.integers(-14 * 60 + 1, 14 * 60 - 1),
)

COLUMNS = {  # name → (declared SQLite type, strategy of Python values)
    "i": ("INTEGER", ints),
    "big": ("BIGNUM TEXT", huge_ints),
    "f": ("REAL", floats),
    "b": ("BOOLEAN", st.booleans()),
    "t": ("VARCHAR", texts),  # varchar is typed "string" (PostgreSQL's text is untyped)
    "d": ("DATE", dates),
    "ts": ("TIMESTAMP", naive_times),
    "tz": ("TIMESTAMPTZ", aware_times),
}


@st.composite
def tables(draw) -> list[dict[str, Any]]:
    n_rows = draw(st.integers(1, 25))
    rows = []
    for _ in range(n_rows):
        row = {}
        for name, (_, values) in COLUMNS.items():
            row[name] = draw(st.one_of(st.none(), values)) if draw(st.booleans()) else draw(values)
        rows.append(row)
    return rows


# -- the expectation, from the dtype table (docs/guide.md#column-types) --------------------
def _datetimes(values: list[Any], unit: str) -> np.ndarray:
    return np.array(
        ["NaT" if v is None else v.isoformat() for v in values], dtype=f"datetime64[{unit}]"
    )


def expected_frame(rows: list[dict[str, Any]], names: list[str]) -> pd.DataFrame:
    columns: dict[str, pd.Series] = {}
    for name in names:
        values = [row[name] for row in rows]
        if name in ("i", "big"):
            fits = all(v is None or INT64[0] <= v <= INT64[1] for v in values)
            series = pd.Series(values, dtype="Int64") if fits else pd.Series(values, dtype=object)
        elif name == "f":  # NaN and ±inf arrive as null
            series = pd.Series(
                [None if v is None or not math.isfinite(v) else v for v in values], dtype="Float64"
            )
        elif name == "b":
            series = pd.Series(values, dtype="boolean")
        elif name == "t":
            series = pd.Series(values, dtype="string")
        elif name == "d":
            series = pd.Series(_datetimes(values, "s"))
        elif name == "ts":
            series = pd.Series(_datetimes(values, "ms"))
        else:  # tz: converted to UTC by the server
            utc = [
                None if v is None else v.astimezone(dt.timezone.utc).replace(tzinfo=None)
                for v in values
            ]
            series = pd.Series(_datetimes(utc, "ms"))
            if any(v is not None for v in values):  # all NULL: no "Z" tells the zone
                series = series.dt.tz_localize("UTC")
        columns[name] = series.rename(name)
    return pd.DataFrame(columns)


def assert_same(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    got = got.copy()
    got.attrs = {}
    for name in got.columns:  # object columns: one NULL spelling (the client uses None or NA)
        if got[name].dtype == object:
            values = [None if v is None or v is pd.NA else v for v in got[name]]
            got[name] = pd.Series(values, index=got.index, dtype=object)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)


# -- the server and the writer -------------------------------------------------------------
@pytest.fixture(scope="module")
def typed_server(tmp_path_factory) -> Iterator[tuple[LocalWatch, int]]:
    with LocalWatch(workers=2) as lw:
        lw.set_date_format("DD/MM/YY", "HH:mm")
        yield lw, lw.add_data_source("typed", typed=True)


@pytest.fixture(scope="module")
def module_cache_dir(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("roundtrip-cache"))


def _sqlite_value(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name == "big":
        return str(value)
    if name == "b":
        return int(value)
    if name == "d":
        return value.isoformat()
    if name in ("ts", "tz"):
        return value.isoformat(sep=" ")
    return value


def write_table(lw: LocalWatch, ds: int, rows: list[dict[str, Any]]) -> str:
    """Create a fresh table holding ``rows`` (bound parameters: no SQL text from the data)."""
    table = f"t{next(_table_ids)}"
    path = lw._backend.data_source(ds)["path"]
    with sqlite3.connect(path) as conn:
        declared = ", ".join(f"{n} {t}" for n, (t, _) in COLUMNS.items())
        conn.execute(f"CREATE TABLE {table} (rowno INTEGER, {declared})")
        conn.executemany(
            f"INSERT INTO {table} VALUES (?, {', '.join('?' for _ in COLUMNS)})",
            [(i, *(_sqlite_value(n, row[n]) for n in COLUMNS)) for i, row in enumerate(rows)],
        )
    conn.close()
    return table


# -- the properties ------------------------------------------------------------------------
@ROUND_TRIPS
@given(rows=tables())
def test_every_read_path_gives_the_same_typed_frame(typed_server, module_cache_dir, rows):
    lw, ds = typed_server
    table = write_table(lw, ds, rows)
    names = list(COLUMNS)
    sql = f"SELECT {', '.join(names)} FROM {table} ORDER BY rowno"
    expected = expected_frame(rows, names)
    qid = lw.add_query(sql, ds, name=table)
    with WatchClient(lw.url, lw.admin_key, backoff_factor=0) as client:
        common = {"client": client, "progress": False, "cache_dir": module_cache_dir}
        fresh = read_watch_query(qid, max_age=0, **common)
        assert fresh.attrs["watch"]["source"] == "fresh run"
        assert_same(fresh, expected)

        cached = read_watch_query(qid, **common)
        assert cached.attrs["watch"]["source"] == "local cache"
        assert_same(cached, expected)

        adhoc = run_sql(sql + " -- adhoc", ds, client=client, progress=False, max_age=0)
        assert_same(adhoc, expected)

        # CSV: refused for this table (dates under DD/MM/YY, NULL vs ""), with the reason.
        result_id = fresh.attrs["watch"]["result_id"]
        columns = [Column(name=n, type=t) for n, t in _types(client, result_id)]
        with pytest.raises(LossyFormatError, match="column 'd'"):
            decode_csv(client.get_result(result_id, "csv"), columns)


@ROUND_TRIPS
@given(rows=tables())
def test_numeric_columns_round_trip_through_csv(typed_server, rows):
    """CSV is accepted only where it is lossless: integers, floats, booleans."""
    lw, ds = typed_server
    table = write_table(lw, ds, rows)
    names = ["i", "big", "f", "b"]
    with WatchClient(lw.url, lw.admin_key, backoff_factor=0) as client:
        frame = run_sql(
            f"SELECT {', '.join(names)} FROM {table} ORDER BY rowno",
            ds,
            client=client,
            progress=False,
            max_age=0,
        )
        result_id = frame.attrs["watch"]["result_id"]
        columns = [Column(name=n, type=t) for n, t in _types(client, result_id)]
        from_csv = decode_csv(client.get_result(result_id, "csv"), columns)
        from_tsv = decode_csv(client.get_result(result_id, "tsv"), columns, delimiter="\t")
    expected = expected_frame(rows, names)
    assert_same(from_csv, expected)
    assert_same(from_tsv, expected)


def _types(client: WatchClient, result_id: int) -> list[tuple[str, str]]:
    import json

    body = json.loads(client.get_result(result_id, "json"))
    return [(c["name"], c["type"]) for c in body["query_result"]["data"]["columns"]]


# -- decoding alone (no server): many more examples cheaply --------------------------------
def _wire(name: str, value: Any) -> Any:
    """What the server puts in the JSON for one cell (docs/protocol.md#value-encoding)."""
    if value is None:
        return None
    if name == "f":
        return value if math.isfinite(value) else None
    if name == "d":
        return value.isoformat()
    if name == "ts":
        text = value.strftime("%Y-%m-%dT%H:%M:%S").rjust(19, "0")
        text = f"{value.year:04d}" + text[-15:]
        return text + (f".{value.microsecond // 1000:03d}" if value.microsecond else "")
    if name == "tz":
        utc = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return _wire("ts", utc) + "Z"
    return value


_TYPE_OF = {
    "i": "integer",
    "big": "integer",
    "f": "float",
    "b": "boolean",
    "t": "string",
    "d": "date",
    "ts": "datetime",
    "tz": "datetime",
}


@settings(max_examples=examples(150), deadline=None, derandomize=True, database=None)
@given(rows=tables())
def test_decode_result_matches_the_dtype_table(rows):
    import json

    names = list(COLUMNS)
    body = json.dumps(
        {
            "query_result": {
                "id": 1,
                "data": {
                    "columns": [{"name": n, "type": _TYPE_OF[n]} for n in names],
                    "rows": [{n: _wire(n, row[n]) for n in names} for row in rows],
                },
            }
        },
        ensure_ascii=False,
    ).encode()
    frame, _ = decode_result(body)
    assert_same(frame, expected_frame(rows, names))
