"""CSV/TSV downloads → the frame the JSON result gives, and the check that a CSV loses nothing.

A CSV carries no types: the columns (with their types) come from the result's JSON metadata,
and the server writes date and datetime columns in the org's moment formats. Only integer,
float and boolean columns, and date columns under a format with day, month and 4-digit year,
survive a CSV exactly; :func:`decode_csv` refuses the rest with :class:`LossyFormatError`.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .. import _constants as C
from ..errors import LossyFormatError, ServerError
from ..models import Column
from ._dtypes import DtypeBackend, assemble, build_integers, check_backend, infer


def csv_loss_reason(columns: Sequence[Column], *, date_format: str, time_format: str) -> str | None:
    """Say what a CSV/TSV of a result with these columns would lose, or ``None`` if nothing.

    ``date_format``/``time_format`` are the org's moment formats (``client_config.dateFormat``
    and the time part of ``dateTimeFormat``), which the server applies to date/datetime
    columns in CSV downloads. Only integer, float and boolean columns, and date columns under
    a format with day, month and 4-digit year, survive a CSV exactly.
    """
    untyped = [c.name for c in columns if c.type is None]
    strings = [c.name for c in columns if c.type == C.TYPE_STRING]
    reasons = []
    if untyped:
        reasons.append(
            f"{_names(untyped)} {'has' if len(untyped) == 1 else 'have'} no type, so the CSV text "
            "cannot be decoded to the JSON values (numbers, text, True/False, nulls and JSON "
            "cells look alike)"
        )
    if strings:
        reasons.append(
            f"{_names(strings)} (string): null and the empty string are both an empty field"
        )
    for column in columns:
        if column.type not in (None, C.TYPE_STRING):
            reason = _column_loss(column, date_format, time_format)
            if reason:
                reasons.append(reason)
    if not reasons:
        return None
    return "a CSV download would differ from the JSON result: " + "; ".join(reasons) + "."


def _names(names: list[str]) -> str:
    return ("column " if len(names) == 1 else "columns ") + ", ".join(map(repr, names))


def decode_csv(
    body: bytes | str,
    columns: Sequence[Column],
    *,
    date_format: str = "DD/MM/YY",
    time_format: str = "HH:mm",
    delimiter: str = ",",
    dtype_backend: DtypeBackend = "numpy_nullable",
) -> pd.DataFrame:
    """Parse a .csv/.tsv download into the frame :func:`decode_result` would give.

    ``columns`` are the result's columns (types from its JSON metadata), the formats are
    the org's. Raises :class:`LossyFormatError` when the CSV cannot represent this result
    faithfully (see :func:`csv_loss_reason`) or a value does not parse as its column type.
    """
    check_backend(dtype_backend)
    if isinstance(body, str):
        body = body.encode("utf-8")
    reason = csv_loss_reason(columns, date_format=date_format, time_format=time_format)
    if reason is not None:
        raise LossyFormatError(reason)
    if not columns:
        if body.strip():
            raise ServerError("The CSV has data but the result has no columns.")
        return pd.DataFrame(index=pd.RangeIndex(0))
    table = _read_csv_strings(body, columns, delimiter)
    date_fmt = _moment_to_strftime(date_format)
    built = [
        _build_from_csv_strings(table.column(i), column, date_fmt)
        for i, column in enumerate(columns)
    ]
    return assemble(built, tuple(columns), table.num_rows, dtype_backend)


# --------------------------------------------------------------------------- org formats, parsing


# moment token → strftime, in the order the server replaces them.
_MOMENT_TOKENS = (
    ("DD", "%d"),
    ("MM", "%m"),
    ("YYYY", "%Y"),
    ("YY", "%y"),
    ("HH", "%H"),
    ("mm", "%M"),
    ("ss", "%S"),
    ("SSS", "%f"),
)


def _moment_to_strftime(moment_format: str) -> str:
    """Translate an org moment format exactly as the server does for CSV downloads."""
    result = moment_format
    for token, directive in _MOMENT_TOKENS:
        result = result.replace(token, directive)
    return result


def _untranslated_letters(strftime_format: str) -> str:
    literal = re.sub(r"%.", "", strftime_format)
    return "".join(sorted({ch for ch in literal if ch.isalpha()}))


def _date_losses(strftime_format: str) -> list[str]:
    losses = []
    if "%Y" not in strftime_format:
        losses.append("the century (2-digit year)" if "%y" in strftime_format else "the year")
    if "%m" not in strftime_format:
        losses.append("the month")
    if "%d" not in strftime_format:
        losses.append("the day")
    leftover = _untranslated_letters(strftime_format)
    if leftover:
        losses.append(f"exactness (tokens the server does not translate: {leftover})")
    return losses


def _column_loss(column: Column, date_format: str, time_format: str) -> str | None:
    name, kind = column.name, column.type
    if kind == C.TYPE_DATE:
        losses = _date_losses(_moment_to_strftime(date_format))
        if losses:
            return f"column {name!r} (date): org format {date_format} drops " + _join(losses)
        return None
    if kind == C.TYPE_DATETIME:
        full = f"{date_format} {time_format}"
        fmt = _moment_to_strftime(full)
        losses = _date_losses(fmt)
        for directive, what in (
            ("%H", "the hour"),
            ("%M", "the minutes"),
            ("%S", "the seconds"),
            ("%f", "the milliseconds"),
        ):
            if directive not in fmt:
                losses.append(what)
        losses.append("the time zone (UTC values cannot be told from naive ones)")
        return f"column {name!r} (datetime): org format {full} drops " + _join(losses)
    if kind in (C.TYPE_INTEGER, C.TYPE_FLOAT, C.TYPE_BOOLEAN):
        return None
    return f"column {name!r} has the unknown type {kind!r}"


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _read_csv_strings(body: bytes, columns: Sequence[Column], delimiter: str) -> pa.Table:
    """Read every field as a string (empty → null) and check the header against ``columns``."""
    from pyarrow import csv as pa_csv

    names = [f"f{i}" for i in range(len(columns))]
    try:
        table = pa_csv.read_csv(
            io.BytesIO(body),
            read_options=pa_csv.ReadOptions(column_names=names, block_size=16 << 20),
            parse_options=pa_csv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    except pa.ArrowInvalid as exc:
        raise ServerError(f"The CSV download does not fit the result's columns ({exc}).") from None
    if table.num_rows == 0:
        raise ServerError("The CSV download is empty; a header row was expected.")
    header = [table.column(i)[0].as_py() or "" for i in range(len(columns))]
    expected = [c.name for c in columns]
    if header != expected:
        raise ServerError(f"The CSV header {header} does not match the result columns {expected}.")
    return table.slice(1).combine_chunks()


def _build_from_csv_strings(strings: Any, column: Column, date_fmt: str) -> Any:
    if isinstance(strings, pa.ChunkedArray):
        strings = strings.combine_chunks()
    try:
        if column.type == C.TYPE_INTEGER:
            return _csv_integers(strings)
        if column.type == C.TYPE_FLOAT:
            return _csv_floats(strings)
        if column.type == C.TYPE_BOOLEAN:
            return _csv_booleans(strings)
        if column.type == C.TYPE_DATE:
            parsed = pc.strptime(strings, format=date_fmt, unit="s", error_is_null=False)
            return pc.cast(parsed, pa.date32())
    except (pa.ArrowInvalid, ValueError) as exc:
        raise LossyFormatError(
            f"column {column.name!r} ({column.type}): the CSV holds a value that is not a "
            f"plain {column.type} ({exc}); use the JSON result."
        ) from None
    raise LossyFormatError(f"column {column.name!r} ({column.type}) cannot be read from a CSV.")


def _csv_integers(strings: pa.Array) -> Any:
    try:
        return pc.cast(strings, pa.int64())
    except pa.ArrowInvalid:
        return build_integers([None if s is None else int(s) for s in strings.to_pylist()])


_INT_TOKEN = r"^[+-]?\d+$"
_LONG_INT_TOKEN = r"^[+-]?\d{16,}$"


def _csv_floats(strings: pa.Array) -> Any:
    # Python writes floats with '.' or 'e'; a bare digit run was a JSON int. Long ones may
    # not fit a double exactly, so they go through the same rule as the JSON path.
    if pc.any(pc.match_substring_regex(strings, _LONG_INT_TOKEN)).as_py():
        values = [
            None if s is None else int(s) if re.match(_INT_TOKEN, s) else float(s)
            for s in strings.to_pylist()
        ]
        return infer(values, infer_untyped=False)
    return pc.cast(strings, pa.float64())


def _csv_booleans(strings: pa.Array) -> Any:
    valid = strings.drop_null()
    if not pc.all(pc.is_in(valid, value_set=pa.array(["true", "false"])), min_count=0).as_py():
        raise ValueError("booleans must be written true/false")
    return pc.equal(strings, "true")
