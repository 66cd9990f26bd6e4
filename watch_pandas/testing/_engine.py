"""Running SQL on a data source's SQLite database and turning rows into wire JSON.

Two kinds of data source (docs/protocol.md#column-types):

* ``sqlite`` — like Redash's sqlite runner: every column ``type: null``, values as SQLite
  returns them (booleans are 0/1).
* ``typed-sqlite`` — like a PostgreSQL-backed server (docs/testing.md#the-typed-source): each
  column's declared PostgreSQL type (in ``CREATE TABLE``, or ``AS "x [TYPE]"`` on an
  expression) gives its reported type and its cells as ``_pgtypes`` models them (``text`` is
  untyped, ``varchar`` is ``"string"``, json and arrays become nested values, ...); a column
  without a declared type is typed from its first non-null value (text untyped). sqlite3
  converters read ``BOOLEAN``, ``DATE``, ``TIMESTAMP``, ``TIMESTAMPTZ`` and, for integers of
  any size stored as TEXT (wei amounts), ``BIGNUM TEXT`` as a declared column type (the word
  TEXT keeps SQLite from turning them into floats) or ``AS "x [HUGEINT]"`` on an expression.

Rows are encoded once, as one JSON object per line, so a large result is kept as bytes on disk
and streamed without being rebuilt (see ``_results``).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from . import _pgtypes

SQLITE = "sqlite"
TYPED_SQLITE = "typed-sqlite"
NO_DATA = "Query completed but it returned no data."


def _to_bool(raw: bytes) -> bool:
    return raw.strip().lower() not in (b"0", b"false", b"f", b"")


def _to_date(raw: bytes) -> dt.date:
    return dt.date.fromisoformat(raw.decode()[:10])


def _to_naive(raw: bytes) -> dt.datetime:
    value = dt.datetime.fromisoformat(raw.decode())
    return value.replace(tzinfo=None) if value.tzinfo else value


def _to_aware(raw: bytes) -> dt.datetime:
    value = dt.datetime.fromisoformat(raw.decode())
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _to_int(raw: bytes) -> int:
    return int(raw)


_CONVERTERS = {
    "BOOLEAN": _to_bool,
    "BOOL": _to_bool,
    "DATE": _to_date,
    "TIMESTAMP": _to_naive,
    "DATETIME": _to_naive,
    "TIMESTAMPTZ": _to_aware,
    "HUGEINT": _to_int,
    "BIGNUM": _to_int,
}
_registered = False


def _register_converters() -> None:
    # sqlite3 converters are process-global; they only apply to connections opened with
    # detect_types, which only the typed data source uses.
    global _registered
    if not _registered:
        for name, func in _CONVERTERS.items():
            sqlite3.register_converter(name, func)
        _registered = True


def connect(path: str, kind: str, *, check_same_thread: bool = True) -> sqlite3.Connection:
    """Open a data source database the way its runner would."""
    if kind == TYPED_SQLITE:
        _register_converters()
        detect = sqlite3.PARSE_DECLTYPES | sqlite3.PARSE_COLNAMES
        return sqlite3.connect(path, detect_types=detect, check_same_thread=check_same_thread)
    return sqlite3.connect(path, check_same_thread=check_same_thread)


def encode_datetime(value: dt.datetime) -> str:
    """ISO text as Redash's JSONEncoder: ms truncation, fraction only if non-zero, UTC ``Z``."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        suffix = "Z"
    else:
        suffix = ""
    text = value.isoformat(timespec="seconds")  # strftime's %Y drops zeros before year 1000
    if value.microsecond:
        text += f".{value.microsecond // 1000:03d}"
    return text + suffix


def encode_value(value: Any) -> Any:
    """Make one cell JSON-ready (docs/protocol.md#value-encoding): NaN/Inf → None, dates ISO,
    bytes → hex, nested JSON values as they are."""
    if value is None or isinstance(value, (str, int, dict, list)):
        return value  # dicts and lists are JSON values already (json/array cells, _pgtypes)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dt.datetime):
        return encode_datetime(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return str(value)


def unique_names(names: list[str]) -> list[str]:
    """Rename duplicates ``x, x1, x2`` like ``fetch_columns``."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        if name in seen:
            seen[name] += 1
            candidate = f"{name}{seen[name]}"
            while candidate in seen:
                seen[name] += 1
                candidate = f"{name}{seen[name]}"
            name = candidate
        seen.setdefault(name, 0)
        out.append(name)
    return out


@dataclass
class Execution:
    """What a finished SQL run produced: columns and the encoded rows file."""

    columns: list[dict[str, Any]]
    row_count: int
    runtime: float


class QueryError(Exception):
    """The database refused or the statement returned nothing; the message is the job error."""


def execute(
    conn: sqlite3.Connection,
    sql: str,
    kind: str,
    out,
    batch: int = 5000,
) -> Execution:
    """Run ``sql`` on ``conn``, writing one JSON object per row (joined by newlines) to ``out``.

    On the typed source a column's type and its cells follow its declared PostgreSQL type
    (``_pgtypes``); a column without one is typed from its first non-null value.
    Raises QueryError with the database's message (or "returned no data").
    """
    started = time.monotonic()
    declared = _declared_types(conn, sql) if kind == TYPED_SQLITE else []
    try:
        cursor = conn.execute(sql)
    except sqlite3.Error as exc:
        raise QueryError(str(exc)) from exc
    if cursor.description is None:
        raise QueryError(NO_DATA)
    names = unique_names([d[0] for d in cursor.description])
    types: list[str | None] = [None] * len(names)
    pending: set[int] = set()
    decoders: list[tuple[int, _pgtypes.Decoder]] = []
    if kind == TYPED_SQLITE:
        for i in range(len(names)):
            model = declared[i] if i < len(declared) else None
            if model is None:
                pending.add(i)
                continue
            types[i] = model.wire
            if model.decode is not None:
                decoders.append((i, model.decode))
    dumps = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode
    count = 0
    first = True
    try:
        while True:
            rows = cursor.fetchmany(batch)
            if not rows:
                break
            lines = []
            for row in rows:
                if decoders:
                    row = list(row)
                    for i, decode in decoders:
                        row[i] = decode(row[i])
                if pending:
                    for i in list(pending):
                        if row[i] is not None:
                            types[i] = _pgtypes.value_type(row[i])
                            pending.discard(i)
                lines.append(dumps({n: encode_value(v) for n, v in zip(names, row, strict=True)}))
            chunk = "\n".join(lines)
            out.write(chunk.encode("utf-8") if first else b"\n" + chunk.encode("utf-8"))
            first = False
            count += len(rows)
    except sqlite3.Error as exc:
        raise QueryError(str(exc)) from exc
    except _pgtypes.CellError as exc:
        raise QueryError(str(exc)) from None
    columns = [
        {"name": n, "friendly_name": n, "type": t} for n, t in zip(names, types, strict=True)
    ]
    return Execution(columns=columns, row_count=count, runtime=time.monotonic() - started)


def _declared_types(conn: sqlite3.Connection, sql: str) -> list[_pgtypes.PgType | None]:
    """Each result column's declared type, modelled (None: not declared, e.g. an expression).

    sqlite3 does not expose ``sqlite3_column_decltype``; a temporary view over the statement
    does (``PRAGMA table_info``): table columns keep their declared type, and ``AS "x [TYPE]"``
    aliases carry theirs in the name (which wins, as it does for sqlite3's converters).
    A statement that cannot be a view's body declares nothing.
    """
    view = "_local_watch_probe"
    try:
        conn.execute(f"CREATE TEMP VIEW {view} AS {sql.strip().rstrip(';')}")
        try:
            info = conn.execute(f"PRAGMA temp.table_info({view})").fetchall()
        finally:
            conn.execute(f"DROP VIEW IF EXISTS temp.{view}")
    except sqlite3.Error:
        return []
    out: list[_pgtypes.PgType | None] = []
    for column in info:
        name, declared = str(column[1]), str(column[2] or "")
        alias = re.search(r"\[(.+)\]\s*$", name)
        text = alias.group(1) if alias else declared
        out.append(_pgtypes.pg_type(text) if text.strip() else None)
    return out


def iter_rows(lines: Iterator[bytes]) -> Iterator[dict[str, Any]]:
    """Decode rows written by ``execute`` (one JSON object per line)."""
    loads = json.loads
    for line in lines:
        if line.strip():
            yield loads(line)
