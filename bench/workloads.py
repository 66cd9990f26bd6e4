"""The benchmark's result workloads, shaped like what real servers send.

``untyped``  a SQLite source as Redash reports it: every column ``type: null``; ints, floats,
             0/1 booleans, ISO dates and ``YYYY-MM-DD HH:MM:SS`` datetimes as text, text,
             NULLs, wei-sized integers (beyond int64) as JSON numbers.
``typed``    a PostgreSQL source: integer, float, boolean, date, naive and UTC datetimes (``Z``,
             milliseconds), text reported untyped (as PostgreSQL's text columns are), wei-sized
             integers; NULLs in every column.
``wide``     the typed columns five times over: 40 columns.

Each is stored once in the local server (``LocalWatch``) as the cached result of a saved query
of its own, rows written here (a SQLite source cannot hold integers beyond int64), so a POST
``/api/queries/<id>/results`` with ``max_age: -1`` answers it, serialised per request in the
Redash-like mode.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from watch_pandas.testing import LocalWatch

Row = dict[str, Any]
_DAY0 = 737425  # date(2020, 1, 1).toordinal()


def _day(n: int) -> str:
    import datetime as dt

    return dt.date.fromordinal(_DAY0 + n % 1500).isoformat()


def _clock(n: int) -> str:
    return f"{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}"


def _untyped_row(n: int) -> Row:
    return {
        "id": n,
        "price": round(1000 + (n % 997) * 0.37, 4),
        "flag": n % 2,
        "d": _day(n),
        "ts": f"{_day(n // 86400)} {_clock(n)}",
        "label": None if n % 20 == 0 else f"item {n}: comma, separated",
        "maybe_null": None if n % 10 == 0 else n * 3,
        "big_int": n * 10**21 + 7,
    }


def _typed_columns(suffix: str = "") -> list[tuple[str, str | None]]:
    kinds = [
        ("id", "integer"),
        ("price", "float"),
        ("flag", "boolean"),
        ("d", "date"),
        ("ts", "datetime"),
        ("tstz", "datetime"),
        ("label", None),
        ("big_int", "integer"),
    ]
    return [(name + suffix, kind) for name, kind in kinds]


def _typed_values(n: int, shift: int = 0) -> list[Any]:
    m = n + shift
    return [
        None if m % 97 == 0 else m,
        None if m % 13 == 0 else round(79.19 + (m % 991) * 0.01, 2),
        None if m % 17 == 0 else m % 3 == 0,
        None if m % 19 == 0 else _day(m),
        None if m % 23 == 0 else f"{_day(m // 86400)}T{_clock(m)}",
        None if m % 29 == 0 else f"{_day(m // 86400)}T{_clock(m)}.{m % 1000:03d}Z",
        None if m % 31 == 0 else f"row {m}",
        None if m % 37 == 0 else m * 10**21 + 1,
    ]


def _typed_row(n: int) -> Row:
    return dict(zip([c for c, _ in _typed_columns()], _typed_values(n), strict=True))


_WIDE_COLUMNS = [col for i in range(5) for col in _typed_columns(f"_{i}")]


def _wide_row(n: int) -> Row:
    values = [v for i in range(5) for v in _typed_values(n, shift=i * 7)]
    return dict(zip([c for c, _ in _WIDE_COLUMNS], values, strict=True))


# name: (columns, row of n, untyped source?)
WORKLOADS: dict[str, tuple[list[tuple[str, str | None]], Callable[[int], Row], bool]] = {
    "untyped": ([(c, None) for c in _untyped_row(1)], _untyped_row, True),
    "typed": (_typed_columns(), _typed_row, False),
    "wide": (_WIDE_COLUMNS, _wide_row, False),
}
LABELS = {
    "untyped": "untyped (SQLite-like, 8 columns, type null)",
    "typed": "typed (PostgreSQL-like, 8 columns, NULLs in each)",
    "wide": "wide (PostgreSQL-like, 40 columns)",
}


def rows(name: str, count: int) -> Iterator[Row]:
    _, make, _ = WORKLOADS[name]
    return (make(n) for n in range(1, count + 1))


def store(lw: LocalWatch, name: str, count: int) -> int:
    """A saved query whose cached result is ``count`` rows of workload ``name``; its id."""
    from watch_pandas.testing import _params

    columns, make, untyped = WORKLOADS[name]
    backend = lw._backend  # the bench writes rows no SQLite source could produce
    source = lw.add_data_source(f"bench-{name}", typed=not untyped)
    sql = f"SELECT * FROM bench_{name} -- {count:,} rows"
    query_id = lw.add_query(sql, source, name=f"Bench {name} {count:,} rows")
    dumps = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode
    started = time.monotonic()
    with tempfile.NamedTemporaryFile(
        dir=backend.store.results_dir, suffix=".part", delete=False
    ) as out:
        batch: list[str] = []
        for n in range(1, count + 1):
            batch.append(dumps(make(n)))
            if len(batch) == 10_000 or n == count:
                out.write(("\n" if n > len(batch) else "").encode() + "\n".join(batch).encode())
                batch = []
    result = backend.store.add_result(
        data_source_id=source,
        query_hash=_params.query_hash(sql),
        query=sql,
        columns=[{"name": c, "friendly_name": c, "type": t} for c, t in columns],
        row_count=count,
        runtime=time.monotonic() - started,
        rows_file=Path(out.name),
    )
    backend._on_result(result)
    return query_id
