"""The typed source's PostgreSQL model: a declared column type → what a PostgreSQL-backed server
reports for it (``columns[].type``) and how its stored cells are turned into the values it sends.

A column's type is declared the SQLite way (in ``CREATE TABLE``, or ``AS "x [TYPE]"`` on an
expression) with PostgreSQL's names. What is modelled (docs/testing.md#the-typed-source):

* the runner's type map (docs/protocol.md#column-types): integers, floats (``numeric`` too),
  booleans, dates and timestamps are typed; ``varchar`` and arrays of text-like elements are
  ``"string"``, arrays of dates/timestamps ``"date"``/``"datetime"``; everything else —
  ``text``, ``char(n)``, ``json``/``jsonb``, ``interval``, ``uuid``, ``bytea``, other arrays, and
  any name PostgreSQL's runner does not map — is ``null``;
* nested cells: ``json``/``jsonb`` cells stored as JSON text become the JSON value, array cells
  (``TYPE[]`` or ``TYPE ARRAY``) stored as a JSON list become that list (of any depth);
* ``interval`` cells stored as a number of seconds become Python's timedelta text
  (``1 day, 2:00:00``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import _constants as C

Decoder = Callable[[Any], Any]


class CellError(Exception):
    """A stored cell is not a value of its declared type (the job's error message)."""


@dataclass(frozen=True)
class PgType:
    """What the typed source does with a column of one declared type."""

    wire: str | None
    decode: Decoder | None = None


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def _loads(value: Any) -> Any:
    text = value.decode("utf-8") if isinstance(value, bytes) else value
    return json.loads(text, parse_constant=_reject_constant)


def _decode_json(value: Any) -> Any:
    if not isinstance(value, (str, bytes)):
        return value  # None, or a number SQLite stored as one
    try:
        return _loads(value)
    except ValueError:
        raise CellError(f"invalid input syntax for type json: {_quoted(value)}") from None


def _decode_array(value: Any) -> Any:
    if value is None:
        return None
    try:
        decoded = _loads(value) if isinstance(value, (str, bytes)) else value
    except ValueError:
        decoded = None
    if not isinstance(decoded, list):
        raise CellError(
            f"malformed array literal: {_quoted(value)} (the local server reads an array cell"
            " written as a JSON list, e.g. '[1, null, 3]' or '[[1, 2], [3, 4]]')"
        )
    return decoded


def _decode_interval(value: Any) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(dt.timedelta(seconds=value))
    return value  # text is sent as stored


def _quoted(value: Any) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return '"' + (text if len(text) <= 60 else text[:57] + "...") + '"'


_JSON = PgType(None, _decode_json)
_INTERVAL = PgType(None, _decode_interval)
_INTEGER = PgType(C.TYPE_INTEGER)
_FLOAT = PgType(C.TYPE_FLOAT)
_UNTYPED = PgType(None)

_INTEGERS = "SMALLINT INT2 INTEGER INT INT4 BIGINT INT8 SERIAL SMALLSERIAL BIGSERIAL"
_FLOATS = "REAL FLOAT FLOAT4 FLOAT8 DOUBLE NUMERIC DECIMAL"
_DATETIMES = ("TIMESTAMP", "TIMESTAMPTZ", "DATETIME")
_SCALARS: dict[str, PgType] = {
    **{name: _INTEGER for name in _INTEGERS.split()},
    # Local names for integers of any size stored as TEXT (wei amounts): docs/testing.md.
    "HUGEINT": _INTEGER,
    "BIGNUM": _INTEGER,
    **{name: _FLOAT for name in _FLOATS.split()},
    "DOUBLE PRECISION": _FLOAT,
    "BOOLEAN": PgType(C.TYPE_BOOLEAN),
    "BOOL": PgType(C.TYPE_BOOLEAN),
    "DATE": PgType(C.TYPE_DATE),
    **{name: PgType(C.TYPE_DATETIME) for name in _DATETIMES},
    "TIMESTAMP WITH TIME ZONE": PgType(C.TYPE_DATETIME),
    "TIMESTAMP WITHOUT TIME ZONE": PgType(C.TYPE_DATETIME),
    "VARCHAR": PgType(C.TYPE_STRING),
    "CHARACTER VARYING": PgType(C.TYPE_STRING),
    "JSON": _JSON,
    "JSONB": _JSON,
    "INTERVAL": _INTERVAL,
}
# Element types whose arrays the runner reports as "string" (text-like), "date", "datetime".
_ARRAY_WIRE: dict[str, str] = {
    **{
        name: C.TYPE_STRING
        for name in ("TEXT", "VARCHAR", "CHARACTER VARYING", "CHAR", "CHARACTER", "BPCHAR")
        + ("UUID", "NAME", "REGPROC")
    },
    "DATE": C.TYPE_DATE,
    **{name: C.TYPE_DATETIME for name in _DATETIMES},
    "TIMESTAMP WITH TIME ZONE": C.TYPE_DATETIME,
    "TIMESTAMP WITHOUT TIME ZONE": C.TYPE_DATETIME,
}
_ARRAY_SUFFIX = re.compile(r"(?:\s*\[\s*\d*\s*\])+$|\s+ARRAY(?:\s*\[\s*\d*\s*\])?$")


def _normalise(declared: str) -> str:
    """``character varying(5)`` → ``CHARACTER VARYING``: upper case, no modifiers, one space."""
    without_modifiers = re.sub(r"\([^)]*\)", " ", declared.upper())
    return " ".join(without_modifiers.split())


def pg_type(declared: str) -> PgType:
    """The model of one declared column type (a ``CREATE TABLE`` type or a ``[TYPE]`` alias)."""
    name = _normalise(declared)
    array = _ARRAY_SUFFIX.search(name)
    if array:
        element = name[: array.start()].strip()
        return PgType(_ARRAY_WIRE.get(element), _decode_array)
    known = _SCALARS.get(name) or _SCALARS.get(name.split(" ")[0] if name else "")
    if known is not None:
        return known
    # Not a PostgreSQL name: SQLite's affinity rules for integers and floats, else untyped
    # (an unmapped type is untyped on PostgreSQL too).
    if "INT" in name and "INTERVAL" not in name and "POINT" not in name:
        return _INTEGER
    if any(k in name for k in ("REAL", "FLOA", "DOUB")):
        return _FLOAT
    return _UNTYPED


def value_type(value: Any) -> str | None:
    """The reported type of an expression without a declared type, from its first value
    (PostgreSQL's text, hence a Python str, is untyped)."""
    if isinstance(value, bool):
        return C.TYPE_BOOLEAN
    if isinstance(value, int):
        return C.TYPE_INTEGER
    if isinstance(value, float):
        return C.TYPE_FLOAT
    if isinstance(value, dt.datetime):
        return C.TYPE_DATETIME
    if isinstance(value, dt.date):
        return C.TYPE_DATE
    return None
