"""The compiled row scanner (``watch_pandas/_scan.c``) against the msgspec path it speeds up.

The scanner may decline a batch (answer ``None``: the msgspec path then decodes it), but every
batch it does answer must give exactly the parts the msgspec path gives — same Arrow types,
same values bit for bit, same nulls, same exact Python ints — and it must never accept a batch
the msgspec path refuses. Hypothesis writes the batches the way servers do (any separators,
``ensure_ascii`` on or off, indented), then damages some of them byte by byte.
"""

from __future__ import annotations

import json
import math
import struct
import sys
import threading
import time
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from _slow import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from watch_pandas import _constants as C
from watch_pandas import _rows
from watch_pandas._decode import _workers, decode_result, read_result
from watch_pandas.errors import ServerError

TYPES = [C.TYPE_INTEGER, C.TYPE_FLOAT, C.TYPE_BOOLEAN, C.TYPE_STRING, C.TYPE_DATE]
TYPES += [C.TYPE_DATETIME, None, "json"]
NAMES = ["id", "price", "", "prix €", "日付", "a b", "x/y"]  # as frames lets through: plain_names
INT64 = (-(2**63), 2**63 - 1)

settings.register_profile("scan", deadline=None, suppress_health_check=[HealthCheck.too_slow])


def scanner_answer(
    names: list[str], types: list[Any], batch: bytes, untyped_temporal: bool = False
) -> Any:
    """(scanner parts or None, msgspec parts or the exception it raised)."""
    slow = _rows.RowDecoder(names, types)
    slow._scan_args = None
    try:
        expected: Any = slow.parts(bytearray(batch))
    except (_rows._Malformed, ServerError) as exc:
        expected = exc
    fast = _rows.RowDecoder(names, types, untyped_temporal=untyped_temporal)
    if fast._scan_args is None:
        return None, expected
    scanned = _rows._scan_rows(batch, *fast._scan_args)
    return (None if scanned is None else fast._scanned_parts(*scanned)), expected


def exact(values: list[Any]) -> list[tuple[type, Any]]:
    """Values with their types; floats by their bits (so -0.0 differs from 0.0)."""
    return [(type(v), struct.pack("<d", v) if isinstance(v, float) else v) for v in values]


def assert_same_parts(fast: list[Any], expected: list[Any]) -> None:
    assert len(fast) == len(expected)
    for got, want in zip(fast, expected, strict=True):
        if isinstance(got, _rows.TemporalPart):
            assert_same_temporal(got, want)
        elif isinstance(want, list):
            assert type(got) is type(want), (got, want)
            assert exact(got) == exact(want)
        else:
            assert isinstance(got, pa.Array), got
            got.validate(full=True)
            assert got.type == want.type
            assert got.null_count == want.null_count
            assert exact(got.to_pylist()) == exact(want.to_pylist())


def assert_same_temporal(got: _rows.TemporalPart, text: pa.Array) -> None:
    """A date or datetime batch the scanner read: its values are what Arrow's cast of the
    text msgspec gives, and the text it writes back is that text, byte for byte."""
    assert isinstance(text, pa.Array) and pa.types.is_string(text.type), text
    got.array.validate(full=True)
    assert got.array.null_count == text.null_count
    assert got.text().to_pylist() == text.to_pylist()
    cast = pc.cast(text, got.array.type)
    assert got.array.equals(cast), (got.array, cast)


def check(names: list[str], types: list[Any], batch: bytes, untyped_temporal: bool) -> bool:
    """Compare both paths on one batch; True when the scanner answered."""
    fast, expected = scanner_answer(names, types, batch, untyped_temporal)
    if fast is None:
        return False
    assert not isinstance(expected, Exception), (
        f"the scanner accepted what msgspec refused: {batch!r}"
    )
    assert_same_parts(fast, expected)
    return True


# --------------------------------------------------------------------------- batches


def write_datetime(moment: Any, separator: str, seconds: str, zone: str) -> str:
    """A datetime as servers write it: ``seconds`` is "none" (minutes only), "0"-"3" (seconds
    and that many fraction digits) or "redash" (milliseconds when the microsecond is not zero,
    as Redash's JSON encoder writes them)."""
    text = f"{moment.date().isoformat()}{separator}{moment.hour:02d}:{moment.minute:02d}"
    if seconds != "none":
        text += f":{moment.second:02d}"
    millis = f".{moment.microsecond // 1000:03d}"
    if seconds == "redash" and moment.microsecond:
        text += millis
    elif seconds in ("1", "2", "3"):
        text += millis[: 1 + int(seconds)]
    return text + zone


def written_datetimes() -> st.SearchStrategy[str]:
    """Datetimes written every way :func:`write_datetime` knows, with odd zones too."""
    zones = ["", "", "Z", "+00:00", "-05:30", "+14:00", "+23:59", "+05", "+0530", "z"]
    return st.builds(
        write_datetime,
        st.datetimes(),
        st.sampled_from(["T", " "]),
        st.sampled_from(["redash", "none", "0", "1", "2", "3"]),
        st.sampled_from(zones),
    )


def _typed_values() -> dict[Any, st.SearchStrategy]:
    ints = st.one_of(
        st.integers(*INT64),
        st.sampled_from([0, -1, *INT64, INT64[0] - 1, INT64[1] + 1, 2**53, 2**53 + 1, -(2**53)]),
        st.integers(-(2**300), 2**300),
    )
    floats = st.floats(allow_nan=False, allow_infinity=False)
    texts = st.text()
    scalars = st.one_of(st.none(), st.booleans(), ints, floats, texts)
    by_kind = {
        C.TYPE_INTEGER: ints,
        C.TYPE_FLOAT: st.one_of(floats, st.integers(-(2**60), 2**60)),
        C.TYPE_BOOLEAN: st.booleans(),
        C.TYPE_STRING: texts,
        C.TYPE_DATE: st.dates().map(str),
        C.TYPE_DATETIME: st.one_of(st.datetimes().map(datetime.isoformat), written_datetimes()),
    }
    nested = st.one_of(st.lists(scalars, max_size=2), st.dictionaries(st.text(max_size=3), scalars))
    # clean: values of the column's type or null; wild: sometimes anything at all
    # untyped text is often dates or datetimes (SQLite's, and PostgreSQL's text columns)
    by_kind[None] = st.one_of(scalars, by_kind[C.TYPE_DATE], by_kind[C.TYPE_DATETIME])
    clean = {kind: st.one_of(by_kind.get(kind, scalars), st.none()) for kind in TYPES}
    wild = {kind: st.one_of(clean[kind], clean[kind], scalars, nested) for kind in TYPES}
    return {True: clean, False: wild}


VALUES = _typed_values()


@st.composite
def batches(draw: Any) -> tuple[list[str], list[Any], bytes]:
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=5, unique=True))
    types = [draw(st.sampled_from(TYPES)) for _ in names]
    clean = draw(st.booleans())  # the layout servers write, or anything JSON allows
    rows = []
    for _ in range(draw(st.integers(0, 12))):
        row = {n: draw(VALUES[clean][t]) for n, t in zip(names, types, strict=True)}
        if draw(st.integers(0, 9)) == 0:  # a key left out, or the keys in another order
            row.pop(draw(st.sampled_from(names)))
        if draw(st.integers(0, 9)) == 0:
            row = dict(reversed(row.items()))
        if not clean and draw(st.integers(0, 9)) == 0:
            row["extra"] = 1
        rows.append(row)
    layout = draw(st.sampled_from([{}, {"separators": (",", ":")}, {"indent": 1}]))
    text = json.dumps(rows, ensure_ascii=draw(st.booleans()), **layout)
    return names, types, text.encode("utf-8")


def test_the_compiled_scanner_is_built() -> None:
    # `pip install -e .` compiles it with the machine's C compiler (gcc or clang); without one
    # the install still works, only slower. CI must build it, or these tests prove nothing.
    assert _rows._scan_rows is not None, "watch_pandas._scan was not compiled (no C compiler?)"


@settings(settings.get_profile("scan"), max_examples=examples(700))
@given(batch=batches())
def test_the_scanner_gives_exactly_what_msgspec_gives(batch) -> None:
    check(*batch, untyped_temporal=False)
    check(*batch, untyped_temporal=True)  # untyped text read as dates and datetimes


@settings(settings.get_profile("scan"), max_examples=examples(700))
@given(
    batch=batches(),
    edits=st.lists(
        st.tuples(
            st.integers(0, 10**6),
            st.sampled_from(["delete", "insert", "replace"]),
            st.sampled_from(list(b'"\\{}[],:0123456789-+.eEtrufalsn \n\x00\x1f\x7f\x80\xc3\xff')),
        ),
        min_size=1,
        max_size=3,
    ),
)
def test_a_damaged_batch_is_never_accepted_differently(batch, edits) -> None:
    names, types, data = batch
    damaged = bytearray(data)
    for position, edit, byte in edits:
        at = position % (len(damaged) + 1)
        if edit == "insert":
            damaged.insert(at, byte)
        elif at < len(damaged):
            if edit == "delete":
                del damaged[at]
            else:
                damaged[at] = byte
    check(names, types, bytes(damaged), untyped_temporal=True)


# --------------------------------------------------------------------------- dates and datetimes


def scan_one_column(kind: str, values: list[Any]) -> Any:
    """The part the scanner makes of one date ("date") or datetime column."""
    decoder = _rows.RowDecoder(["x"], [kind])
    scanned = _rows._scan_rows(json.dumps([{"x": v} for v in values]).encode(), *decoder._scan_args)
    assert scanned is not None
    return decoder._scanned_parts(*scanned)[0]


@settings(settings.get_profile("scan"), max_examples=examples(400))
@given(
    moments=st.lists(st.one_of(st.none(), st.datetimes()), min_size=1, max_size=20),
    layout=st.tuples(
        st.sampled_from(["T", " "]),
        st.sampled_from(["redash", "none", "0", "1", "2", "3"]),
        st.sampled_from(["", "Z", "+00:00", "-05:30", "+14:00", "-23:59"]),
    ),
)
def test_datetimes_written_one_way_are_read_as_arrow_reads_them(moments, layout) -> None:
    texts = [None if m is None else write_datetime(m, *layout) for m in moments]
    part = scan_one_column(C.TYPE_DATETIME, texts)
    expected = pa.array(texts, type=pa.string())
    written = [t for t in texts if t is not None]
    # Redash's rule cannot be told from a batch holding both ".000" (a microsecond below
    # one millisecond) and no fraction (zero): such a batch stays text
    micros = {m.microsecond for m in moments if m is not None}
    ambiguous = layout[1] == "redash" and 0 in micros and any(0 < u < 1000 for u in micros)
    if not written:
        assert part.equals(expected)
    elif ambiguous:
        assert part.equals(expected)
    else:
        assert isinstance(part, _rows.TemporalPart), texts
        assert part.array.type == pa.timestamp("ms", tz="UTC" if layout[2] else None)
        assert_same_temporal(part, expected)


@settings(settings.get_profile("scan"), max_examples=examples(300))
@given(days=st.lists(st.one_of(st.none(), st.dates()), min_size=1, max_size=20))
def test_dates_are_read_as_arrow_reads_them(days) -> None:
    texts = [None if d is None else d.isoformat() for d in days]
    part = scan_one_column(C.TYPE_DATE, texts)
    if all(t is None for t in texts):
        assert part.equals(pa.array(texts, type=pa.string()))
        return
    assert isinstance(part, _rows.TemporalPart)
    assert part.array.type == pa.date32()
    assert_same_temporal(part, pa.array(texts, type=pa.string()))


@pytest.mark.parametrize(
    "odd",
    [
        "2024-02-30",  # no such day
        "2023-02-29",
        "0000-01-01",
        "2024-1-01",
        "2024-01-01T00:00",  # a datetime in a date column
        "2024-01-01 ",
        r"\u0032024-01-01",  # escaped: the text is the same, the scanner leaves it
    ],
)
def test_a_date_the_scanner_does_not_read_keeps_the_batch_as_text(odd: str) -> None:
    batch = f'[{{"x": "2024-01-02"}}, {{"x": null}}, {{"x": "{odd}"}}, {{"x": "1999-12-31"}}]'
    decoder = _rows.RowDecoder(["x"], [C.TYPE_DATE])
    part = decoder._scanned_parts(*_rows._scan_rows(batch.encode(), *decoder._scan_args))[0]
    assert part.equals(pa.array([row["x"] for row in json.loads(batch)], type=pa.string()))


@pytest.mark.parametrize(
    ("values", "read"),
    [
        (["2024-01-01T00:00:01", "2024-01-01T00:00:02.5"], False),  # one layout per batch
        (["2024-01-01T00:00:01Z", "2024-01-01T00:00:01.250Z", "2024-01-01T00:00:02Z"], True),
        (["2024-01-01T00:00:01.250Z", "2024-01-01T00:00:01Z", "2024-01-01T00:00:00.000Z"], False),
        (["2024-01-01T00:00:00.000Z", "2024-01-01T00:00:01Z"], False),  # ".000", then Redash's
        (["2024-01-01T00:00:01+01:00", "2024-01-01T00:00:01+02:00"], False),
        (["2024-01-01T00:00:01", "2024-01-01 00:00:01"], False),
        (["2024-01-01T00:00:01", "2024-01-01T00:00:01Z"], False),
        (["2024-01-01T00:00:01.1234", "2024-01-01T00:00:01"], False),  # finer than ms
        (["2024-01-01T24:00:00", "2024-01-01T00:00:00"], False),
        (["2024-01-01T00:00:60"], False),
        (["2024-01-01T00:00:00+24:00"], False),
        (["2024-01-01T00:00:00+05"], False),  # an hour-only offset: the careful rule's
        (["2024-01-01"], False),  # a date in a datetime column
        (["1969-12-31T23:59:59.999Z", None, "0001-01-01T00:00:00.001Z"], True),
        (["9999-12-31T23:59:59.999-23:59", "9999-12-31T00:00:00.001-23:59"], True),
    ],
)
def test_datetimes_the_scanner_reads_or_keeps_as_text(values: list[Any], read: bool) -> None:
    part = scan_one_column(C.TYPE_DATETIME, values)
    expected = pa.array(values, type=pa.string())
    assert isinstance(part, _rows.TemporalPart) is read
    if read:
        assert_same_temporal(part, expected)
    else:
        assert part.equals(expected)


# --------------------------------------------------------------------------- numbers


def scan_one(kind: str, token: str) -> Any:
    """The scanner's value of one JSON token in a one-column batch (None if it declined)."""
    scanned = _rows._scan_rows(f'[{{"x": {token}}}]'.encode(), (b"x",), kind.encode())
    if scanned is None:
        return None
    n_rows, (column,) = scanned
    if isinstance(column, list):
        return column[0]
    if kind == "a":  # a batch of one kind: its Arrow buffers (or exact ints), as typed
        (part,) = _rows.RowDecoder(["x"], [None])._scanned_parts(n_rows, [column])
        return part[0] if isinstance(part, list) else part.to_pylist()[0]
    return struct.unpack("<d" if kind == "f" else "<q", column[1])[0]


@pytest.mark.parametrize(
    ("tokens", "arrow_type"),
    [
        (["1", "null", "-7", "9223372036854775807"], pa.int64()),
        (["1.5", "null", "2e-3", "-0.0", "1.0000000000000002"], pa.float64()),
        (["1.5", "0.1e-400", "3.14159265358979323846264338327950288"], pa.float64()),
        (["true", "false", "null"] * 5, pa.bool_()),
        (['"a"', "null", '"\\u00e9t\\u00e9"', '""', '"2024-01-02"'], pa.string()),
        (["null", "null"], pa.null()),
    ],
)
def test_an_untyped_column_of_one_kind_comes_back_as_arrow_buffers(tokens, arrow_type) -> None:
    # the untyped columns of SQLite-like servers: no Python object per cell, so no GIL needed
    batch = ("[" + ",".join(f'{{"x": {t}, "y": 1}}' for t in tokens) + "]").encode()
    n_rows, (column, _) = _rows._scan_rows(batch, (b"x", b"y"), b"aa")
    assert not isinstance(column, list)
    (part,) = _rows.RowDecoder(["x"], [None])._scanned_parts(n_rows, [column])
    assert part.type == arrow_type
    assert check(["x", "y"], [None, None], batch, untyped_temporal=True)  # msgspec's, exactly


@pytest.mark.parametrize(
    "tokens",
    [
        ["1", "1.5"],
        ["1", '"a"'],
        ["1", "100000000000000000000000", '"a"'],
        ["true", "1"],
        ['"a"', "false"],
    ],
)
def test_an_untyped_column_of_mixed_kinds_comes_back_as_python_values(tokens) -> None:
    batch = ("[" + ",".join(f'{{"x": {t}}}' for t in tokens) + "]").encode()
    n_rows, (column,) = _rows._scan_rows(batch, (b"x",), b"a")
    assert isinstance(column, list)
    assert check(["x"], [None], batch, untyped_temporal=True)


@pytest.mark.parametrize("kinds", ["f", "i", "b", "s", "d", "t"])
@pytest.mark.parametrize("first_byte", [b"d", b"t", b"I", b"n", b"s"])
def test_a_typed_column_whose_validity_looks_like_a_letter_is_read_as_typed(
    kinds: str, first_byte: bytes
) -> None:
    # an untyped column's answer starts with a letter, a typed one's with its validity bitmap
    value = {"f": "1.5", "i": "2", "b": "true", "s": '"x"', "d": '"2024-01-01"'}
    value["t"] = '"2024-01-01T00:00:00"'
    valid = [bool(first_byte[0] >> bit & 1) for bit in range(8)]
    batch = "[" + ",".join(f'{{"x": {value[kinds] if v else "null"}}}' for v in valid) + "]"
    column_type = {v: k for k, v in _rows._TEMPORAL_LETTERS.items()}.get(kinds) or [
        kind for kind, t in _rows._PART_TYPES.items() if _rows._SCAN_LETTERS[t] == kinds
    ][0]
    assert check(["x"], [column_type], batch.encode(), untyped_temporal=True)


@pytest.mark.parametrize(
    "tokens", [["1", "100000000000000000000000"], ["-100000000000000000000000", "null", "7"]]
)
def test_an_untyped_column_of_integers_beyond_int64_is_known_to_be_ints(tokens) -> None:
    # what the careful path finds by looking at each value's type, the scanner already knows
    batch = ("[" + ",".join(f'{{"x": {t}}}' for t in tokens) + "]").encode()
    n_rows, ((letter, values),) = _rows._scan_rows(batch, (b"x",), b"a")
    assert letter == b"I" and values == [json.loads(t) for t in tokens]
    assert check(["x"], [None], batch, untyped_temporal=True)  # an ExactInts part, as msgspec's


@settings(settings.get_profile("scan"), max_examples=examples(2000))
@given(x=st.floats(allow_nan=False, allow_infinity=False), form=st.sampled_from(["r", "e", "g"]))
def test_floats_are_correctly_rounded_in_every_spelling(x: float, form: str) -> None:
    token = {"r": repr(x), "e": f"{x:.20e}", "g": f"{x:.12g}"}[form]
    if "." not in token and "e" not in token:
        return  # an integer token: the int cases below
    assert struct.pack("<d", scan_one("f", token)) == struct.pack("<d", float(token))


@settings(settings.get_profile("scan"), max_examples=examples(2000))
@given(token=st.from_regex(r"\A-?(0|[1-9][0-9]{0,24})\.[0-9]{1,25}([eE][+-]?[0-9]{1,3})?\Z"))
def test_decimal_tokens_parse_as_python_floats_or_are_declined(token: str) -> None:
    got = scan_one("f", token)
    if math.isinf(float(token)):
        assert got is None
    else:
        assert struct.pack("<d", got) == struct.pack("<d", float(token))


@given(value=st.one_of(st.integers(*INT64), st.integers(-(10**3000), 10**3000)))
def test_integers_are_exact_of_any_size(value: int) -> None:
    assert scan_one("i", str(value)) == value
    got = scan_one("a", str(value))
    assert type(got) is int and got == value


BIG_INT_EDGES = [2**63, -(2**63) - 1, 10**37, 10**38 - 1, -(10**38) + 1, 10**38, -(10**38)]
BIG_INT_EDGES += [2**127 - 1, -(2**127), 2**127, 10**39 + 7, 2**64 - 1, -(2**64)]


@pytest.mark.parametrize("value", BIG_INT_EDGES)
@pytest.mark.parametrize("kind", ["i", "a"])
def test_integers_up_to_38_digits_and_beyond_are_exact(value: int, kind: str) -> None:
    # up to 38 digits the scanner reads them in 128 bits, longer ones in Python's conversion
    for token in (str(value), str(value) + "0", str(value)[:-1] or "0"):
        got = scan_one(kind, token)
        assert type(got) is int and got == int(token)


@pytest.mark.parametrize("kind", ["i", "a"])
def test_wide_integers_among_other_cells_keep_their_rows(kind: str) -> None:
    # integers of up to 38 digits are read into 128 bits during the scan and become Python
    # ints afterwards: each must come back at its own row, among longer ones, int64 values,
    # nulls and (untyped) text and floats held in the same column's buffers
    values: list[Any] = [10**30 + 1, None, -(10**37), 5, 10**40 + 3, 2**127 - 1, -(2**63) - 1]
    if kind == "a":
        values += ['a, "quoted" text', 1.5, 10**25, "2024-01-02", True]
    body = json.dumps([{"x": v} for v in values]).encode()
    n_rows, (column,) = _rows._scan_rows(body, (b"x",), kind.encode())
    assert n_rows == len(values)
    assert column == values  # a list: some values are beyond int64, or of several kinds
    assert [type(v) for v in column] == [type(v) for v in values]


@pytest.mark.parametrize("short_first", [True, False])
def test_batches_whose_first_rows_foretell_their_size_badly_are_read_whole(
    short_first: bool,
) -> None:
    # the scanner sizes its buffers for the whole batch from its first 1,024 rows; rows
    # and text much longer (or shorter) after those must still all be read, in order
    short = [{"n": i, "t": "x", "a": i % 3 or None} for i in range(1500)]
    long = [{"n": 10**12 + i, "t": "y" * (200 + i % 50), "a": "z" * 30} for i in range(1500)]
    rows = short + long if short_first else long + short
    n_rows, (n, t, a) = _rows._scan_rows(json.dumps(rows).encode(), (b"n", b"t", b"a"), b"isa")
    assert n_rows == len(rows)
    assert struct.unpack(f"<{n_rows}q", n[1]) == tuple(r["n"] for r in rows)
    offsets = struct.unpack(f"<{n_rows + 1}i", t[1])
    data = bytes(memoryview(t[2]))
    texts = [data[offsets[i] : offsets[i + 1]].decode() for i in range(n_rows)]
    assert texts == [r["t"] for r in rows]
    assert a == [r["a"] for r in rows]  # untyped, of two kinds: a list


@pytest.mark.skipif(not hasattr(sys, "set_int_max_str_digits"), reason="Python < 3.10.7")
@pytest.mark.parametrize("kind", ["i", "a"])
def test_an_int_beyond_a_lowered_digit_limit_is_declined(kind: str) -> None:
    # sys.set_int_max_str_digits(1000): Python refuses to convert longer ints; the scanner
    # must leave the batch to the msgspec path rather than raise
    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(1000)
    try:
        assert scan_one(kind, "9" * 2000) is None
        assert scan_one(kind, "9" * 900) == int("9" * 900)
    finally:
        sys.set_int_max_str_digits(limit)


@pytest.mark.parametrize(
    ("kind", "token"),
    [
        ("i", "1.0"),  # a float in an integer column: msgspec's loose path decides
        ("i", "1e3"),
        ("i", "01"),
        ("i", "-"),
        ("i", "+1"),
        ("i", "9" * 4001),  # beyond the digits Python converts without a limit
        ("f", "9007199254740993"),  # an int a double cannot hold exactly
        ("f", "1e400"),
        ("f", "NaN"),
        ("f", "Infinity"),
        ("f", "1."),
        ("f", ".5"),
        ("b", "1"),
        ("b", "tru"),
        ("b", '"true"'),
        ("s", "5"),
        ("s", '"\\ud800"'),  # a lone surrogate
        ("s", '"\\udc00x"'),
        ("s", '"\\x"'),
        ("s", '"a\nb"'),  # a raw control character
        ("s", '"\xff"'),
        ("a", "[1]"),  # nested values are left to msgspec
        ("a", '{"a": 1}'),
    ],
)
def test_what_the_scanner_declines(kind: str, token: str) -> None:
    batch = f'[{{"x": {token}}}]'.encode("utf-8", "surrogateescape")
    if token == '"\xff"':
        batch = b'[{"x": "\xff"}]'
    assert _rows._scan_rows(batch, (b"x",), kind.encode()) is None


@pytest.mark.parametrize(
    "batch",
    [
        b'[{"x": 1}] x',  # trailing text
        b'[{"x": 1}',  # unterminated
        b'[{"x": 1},]',
        b'[{"x": 1, "x": 2}]',  # duplicate key
        b'[{"y": 1}]',  # a key that is not a column
        b'[{"x" 1}]',
        b"[1]",
        b"{}",
        b"",
    ],
)
def test_the_scanner_declines_layouts_msgspec_must_judge(batch: bytes) -> None:
    assert _rows._scan_rows(batch, (b"x",), b"i") is None


def test_escaped_keys_are_matched_unescaped() -> None:
    # a server writing ensure_ascii JSON escapes non-ASCII column names: "prix \u20ac"
    names, types = ["prix €", "x/y"], [C.TYPE_INTEGER, C.TYPE_STRING]
    rows = [{"prix €": 1, "x/y": "a"}, {"x/y": None, "prix €": None}]
    batch = json.dumps(rows, ensure_ascii=True).replace("/", "\\/").encode()
    assert b"\\u20ac" in batch and b"x\\/y" in batch
    assert check(names, types, batch, untyped_temporal=True)  # accepted, as msgspec reads it


def test_strings_unescape_like_json() -> None:
    text = 'q"\\/\b\f\n\r\t é 日本 \U0001f600 \x7f'
    for ensure_ascii in (True, False):
        token = json.dumps(text, ensure_ascii=ensure_ascii)
        batch = f'[{{"x": {token}}}, {{"x": null}}, {{}}]'.encode()
        n_rows, (column,) = _rows._scan_rows(batch, (b"x",), b"s")
        validity, offsets, data, null_count = column
        array = pa.Array.from_buffers(
            pa.string(), n_rows, [pa.py_buffer(validity), pa.py_buffer(offsets), pa.py_buffer(data)]
        )
        assert array.to_pylist() == [text, None, None] and null_count == 2


# --------------------------------------------------------------------------- whole reads


def body_of(columns: list[tuple[str, Any]], rows: list[dict[str, Any]]) -> bytes:
    data = {"columns": [{"name": n, "type": t} for n, t in columns], "rows": rows}
    return json.dumps({"query_result": {"id": 1, "data": data}}).encode()


@pytest.fixture
def scanner_answers(monkeypatch) -> list[Any]:
    """What the scanner answered during the test, batch by batch."""
    answers: list[Any] = []
    scan = _rows._scan_rows

    def recording(*args: Any) -> Any:
        answers.append(answer := scan(*args))
        return answer

    monkeypatch.setattr(_rows, "_scan_rows", recording)
    return answers


@pytest.fixture(params=[1, 3], ids=["1_worker", "3_workers"])
def workers(request, monkeypatch) -> int:
    """The whole reads below run on one thread and on three decode workers."""
    monkeypatch.setenv(_workers.ENV_WORKERS, str(request.param))
    return int(request.param)


def test_a_declined_batch_sends_the_rest_of_the_read_to_msgspec(scanner_answers, workers) -> None:
    rows = [{"id": i, "tags": {"n": i} if i == 3 else str(i)} for i in range(2000)]
    body = body_of([("id", "integer"), ("tags", None)], rows)
    frame, _ = read_result(body, batch_bytes=1024)
    expected, _ = decode_result(body)
    pd_testing_equal(frame, expected)
    if workers == 1:
        assert scanner_answers == [None]  # declined the first batch, then not asked again
    else:  # the batches already on their way when it declined were scanned too
        assert None in scanner_answers
        assert len(scanner_answers) <= _rows.in_flight(workers)


def test_scanned_reads_equal_the_careful_decode(scanner_answers, workers) -> None:
    rows = [
        {
            "id": i,
            "price": i / 7,
            "ok": i % 3 == 0 if i % 5 else None,
            "day": f"2024-01-{i % 28 + 1:02d}",
            "ts": f"2024-01-01T00:00:{i % 60:02d}Z",
            "label": f"row é {i}" if i % 4 else "",
            "wei": i * 10**30 if i % 2 else None,
            "any": [i, "x", 1.5, None, True][i % 5],
        }
        for i in range(5000)
    ]
    columns = [("id", "integer"), ("price", "float"), ("ok", "boolean"), ("day", "date")]
    columns += [("ts", "datetime"), ("label", "string"), ("wei", "integer"), ("any", None)]
    body = body_of(columns, rows)
    for backend in ("numpy_nullable", "pyarrow"):
        frame, _ = read_result(body, batch_bytes=4096, dtype_backend=backend)
        expected, _ = decode_result(body, dtype_backend=backend)
        pd_testing_equal(frame, expected)
    assert frame["wei"].iloc[1] == 10**30
    assert len(scanner_answers) > 10 and None not in scanner_answers  # it read every batch


def _stamps(n: int, zone: str = "Z") -> list[str | None]:
    return [
        None if i % 11 == 0 else f"2024-03-{i % 28 + 1:02d}T10:{i % 60:02d}:00.{i % 1000:03d}{zone}"
        for i in range(n)
    ]


def _seconds(n: int, fraction: Any) -> list[str]:
    return [f"2024-03-01T10:00:{i % 60:02d}{fraction(i)}" for i in range(n)]


@pytest.mark.parametrize(
    ("name", "ts"),
    [
        ("one layout", _stamps(3000)),
        ("naive, then zoned", _stamps(1500, "") + _stamps(1500)),  # mixed: the server's text
        ("an odd value late", _stamps(2900) + ["2024-03-01T10:00:00.123456Z"] + _stamps(99)),
        ("offsets that change", _stamps(1000, "+01:00") + _stamps(1000, "+02:00")),
        ("Redash's milliseconds", _seconds(3000, lambda i: "Z" if i % 3 else ".500Z")),
        ("a '.000' among them", _seconds(3000, lambda i: ".000Z" if i == 1700 else "Z")),
        ("nulls only, then values", [None] * 1500 + _stamps(1500)),
        ("dates in a datetime column", _stamps(1500) + ["2024-03-01"] * 1500),
    ],
)
def test_datetime_columns_read_in_batches_equal_the_careful_decode(
    scanner_answers, workers, name, ts
) -> None:
    days = [None if i % 7 else f"20{i % 100:02d}-0{i % 9 + 1}-1{i % 10}" for i in range(len(ts))]
    if name == "an odd value late":
        days[2950] = "2024-02-30"
    rows = [{"id": i, "ts": t, "d": d} for i, (t, d) in enumerate(zip(ts, days, strict=True))]
    body = body_of([("id", "integer"), ("ts", "datetime"), ("d", "date")], rows)
    for backend in ("numpy_nullable", "pyarrow"):
        frame, _ = read_result(body, batch_bytes=2048, dtype_backend=backend)
        expected, _ = decode_result(body, dtype_backend=backend)
        pd_testing_equal(frame, expected)
    assert len(scanner_answers) > 10 and None not in scanner_answers  # it read every batch
    letters = {answer[1][1][0] for answer in scanner_answers}
    assert b"t" in letters or name.startswith("dates"), letters  # the scanner read some itself


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("dates", [None if i % 9 == 0 else f"2024-0{i % 9 + 1}-1{i % 10}" for i in range(3000)]),
        ("datetimes", [f"2024-03-01 10:{i % 60:02d}:00" for i in range(3000)]),
        ("zoned", _stamps(3000)),
        ("dates, then datetimes", ["2024-03-01"] * 1500 + _stamps(1500, "")),
        ("dates, then text", ["2024-03-01"] * 2900 + ["soon"] + ["2024-03-02"] * 99),
        ("text", [f"row {i}" for i in range(3000)]),
        ("dates, then a number", ["2024-03-01"] * 2900 + [5] + ["2024-03-02"] * 99),
    ],
)
@pytest.mark.parametrize("infer_untyped", [True, False])
def test_untyped_text_read_as_dates_in_batches_equals_the_careful_decode(
    scanner_answers, workers, name, values, infer_untyped
) -> None:
    body = body_of(
        [("id", "integer"), ("when", None)], [{"id": i, "when": v} for i, v in enumerate(values)]
    )
    for backend in ("numpy_nullable", "pyarrow"):
        frame, _ = read_result(
            body, batch_bytes=2048, dtype_backend=backend, infer_untyped=infer_untyped
        )
        expected, _ = decode_result(body, dtype_backend=backend, infer_untyped=infer_untyped)
        pd_testing_equal(frame, expected)
    letters = {answer[1][1][0] for answer in scanner_answers if isinstance(answer[1][1], tuple)}
    read_itself = bool(letters & {b"d", b"t"})
    assert read_itself is (infer_untyped and name != "text"), letters


def pd_testing_equal(left: Any, right: Any) -> None:
    import pandas.testing as tm

    tm.assert_frame_equal(left, right, check_exact=True)


def test_the_scan_lets_other_threads_run() -> None:
    # A dashboard's widgets decode in threads: the scan must not hold the GIL. While one
    # large batch is scanned, another thread keeps stamping the clock; with the GIL held it
    # could not run at all between the call's start and its end.
    row = '{"id": 123456789, "price": 1234.5678, "label": "some text here", "n": null}'
    batch = ("[" + ",".join([row] * 400_000) + "]").encode()
    names, kinds = (b"id", b"price", b"label", b"n"), b"ifsi"
    stamps: list[float] = []
    scanning = threading.Event()

    def stamp() -> None:
        scanning.wait()
        while scanning.is_set():
            stamps.append(time.perf_counter())

    other = threading.Thread(target=stamp)
    other.start()
    try:
        scanning.set()
        started = time.perf_counter()
        n_rows, _ = _rows._scan_rows(batch, names, kinds)
        ended = time.perf_counter()
    finally:
        scanning.clear()
        other.join()
    assert n_rows == 400_000
    margin = (ended - started) / 4
    assert any(started + margin < t < ended - margin for t in stamps)
