"""Split a JSON result body into row batches while it arrives, and decode them with msgspec.

A result body is ``{"query_result": {..., "data": {"columns": [...], "rows": [{...}, ...]},
...}}`` (or the bare ``query_result`` object). :class:`ResultSplitter` scans the small prefix
with a tiny JSON tokenizer until it finds ``data.rows`` (after ``data.columns``), then cuts the
rows into batches of roughly ``batch_bytes`` at ``}, {`` boundaries and hands each batch to a
:class:`RowDecoder`. A cut that lands inside a string or a nested value always makes the batch
invalid JSON (an unterminated string or an unclosed bracket), so a failed decode moves the cut
to an earlier boundary. When the layout is not the expected one (no columns before the rows,
duplicate column names, no ``rows`` list) the splitter says so and the caller decodes the whole
body the careful way instead.

Each batch goes first to the compiled row scanner (``_scan.c``, built at install when a C
compiler is there), which writes the common layouts straight into Arrow buffers; whatever it
declines (nested values, keys that are not columns, …) msgspec decodes, and the answers are the
same either way (tests/test_scan.py compares them). msgspec keeps integers of any size exact
(orjson turns those beyond 64 bits into floats). The scanner also reads dates and the usual ISO
datetime layouts to their numbers (:class:`TemporalPart`), with how the batch wrote them, so the
server's text can be written again when a column's batches disagree and its rule must decide
on the text (``_decode/_json.py``).

Given a pool of several workers (``watch_pandas._decode._workers``), the batches are decoded on
its threads, a few at a time and handed on in body order (:meth:`ResultSplitter._parallel`);
rows around a cut that fell inside a value are cut again on the calling thread, then the pool
takes the rest (:meth:`ResultSplitter._recut`).
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from operator import attrgetter
from types import GenericAlias
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np
import pyarrow as pa

from . import _constants as C
from ._decode import _memory
from .errors import ServerError

if TYPE_CHECKING:  # pragma: no cover
    from ._decode._workers import DecodePool

__all__ = [
    "RowDecoder",
    "ResultSplitter",
    "Batch",
    "Whole",
    "Finished",
    "Columns",
    "ExactInts",
    "TemporalPart",
    "batch_part",
    "plain_names",
    "in_flight",
]

# A token of the prefix: a complete string, a structural character, or a bare scalar.
_TOKEN = re.compile(rb'[ \t\r\n]*(?:("(?:[^"\\]|\\.)*")|([{}\[\]:,])|([^ \t\r\n{}\[\]:,"]+))')
_ROW_CUT = re.compile(rb"\}[ \t\r\n]*,[ \t\r\n]*\{")
_MAX_PREFIX = 64 << 20  # a prefix (query text, columns) larger than this is not worth scanning
_CUT_ATTEMPTS = 8
_OPEN, _CLOSE = ord("["), ord("]")
_ODD = -1  # the prefix scanner's answer for "not the layout the fast path expects"
_END_ATTEMPTS = 16

_scan_rows: Callable[..., tuple[int, list[Any]] | None] | None
try:  # the optional compiled row scanner (watch_pandas/_scan.c); msgspec does all without it
    from . import _scan

    _scan_rows = _scan.scan_rows
except ImportError:  # pragma: no cover - installed without a C compiler
    _scan_rows = None

# JSON value types per column type: what msgspec accepts without changing a value. Float
# columns take ints too (kept as Python ints; the builder decides), untyped columns anything.
_FIELD_TYPES: dict[str | None, Any] = {
    C.TYPE_INTEGER: int | None,
    C.TYPE_FLOAT: int | float | None,
    C.TYPE_BOOLEAN: bool | None,
    C.TYPE_STRING: str | None,
    C.TYPE_DATE: str | None,
    C.TYPE_DATETIME: str | None,
}


class _Malformed(Exception):
    """The batch is not valid JSON (usually: the cut landed inside a string)."""


class RowDecoder:
    """Decode ``[{row}, …]`` batches into one list of values per column (the names must be
    :func:`plain_names`).

    ``checked`` in the answer says the values were validated against the column types by
    msgspec (ints are ints, bools are bools, strings are strings, each possibly ``None``);
    otherwise they are whatever the JSON held.
    """

    def __init__(
        self, names: Sequence[str], types: Sequence[str | None], *, untyped_temporal: bool = False
    ) -> None:
        self.names = list(names)
        self.types = list(types)
        typed = [
            (f"f{i}", _FIELD_TYPES.get(kind, Any), msgspec.field(default=None, name=name))
            for i, (name, kind) in enumerate(zip(names, types, strict=True))
        ]
        loose = [(f"f{i}", Any, msgspec.field(default=None, name=n)) for i, n in enumerate(names)]
        row = msgspec.defstruct("Row", typed, gc=False)
        any_row = msgspec.defstruct("AnyRow", loose, gc=False)
        # list[row] spelled as the alias it is: the row types are made at run time
        self._typed = msgspec.json.Decoder(GenericAlias(list, (row,)))
        self._loose = msgspec.json.Decoder(GenericAlias(list, (any_row,)))
        self._getters = [attrgetter(f"f{i}") for i in range(len(names))]
        self._scan_args: tuple[Any, ...] | None = (
            None if _scan_rows is None else _scan_args(self.names, self.types, untyped_temporal)
        )

    def parts(self, batch: bytes | bytearray | memoryview) -> list[Any]:
        """Each column of the rows in ``batch`` as an Arrow array, or a list when the values
        do not surely fit the column type (see :func:`batch_part`)."""
        if self._scan_args is not None and _scan_rows is not None:
            scanned = _scan_rows(batch, *self._scan_args)
            if scanned is not None:
                return self._scanned_parts(*scanned)
            # The accelerator leaves this layout to msgspec (nested values, keys it does not
            # know, …): it would most likely do so again, so the rest of the read skips it.
            self._scan_args = None
        rows, checked = self._rows(batch)
        parts = []
        for i, (kind, getter) in enumerate(zip(self.types, self._getters, strict=True)):
            if isinstance(rows, _ColumnLists):
                column = rows[i]
            else:
                if checked and kind == C.TYPE_INTEGER:
                    part = _int64_part(rows, getter)
                    if part is not None:
                        parts.append(part)
                        continue
                column = list(map(getter, rows))
            parts.append(batch_part(column, kind, checked))
            del column
        return parts

    def _scanned_parts(self, n_rows: int, columns: list[Any]) -> list[Any]:
        """The accelerator's column buffers as Arrow arrays; its lists as the msgspec path's
        parts for the same values (checked: they are of the column's JSON types). An untyped
        column whose values in the batch are of one kind comes as buffers too, as the Arrow
        array :func:`batch_part` makes of such values."""
        parts = []
        for kind, column in zip(self.types, columns, strict=True):
            # (an untyped column's answer starts with its letter; a typed one's with its
            # validity bitmap, which may hold the same byte)
            letter = column[0] if kind not in _PART_TYPES and isinstance(column, tuple) else None
            if kind in _TEMPORAL_LETTERS or letter in (b"d", b"t"):
                parts.append(_temporal_part(n_rows, column))
                continue
            if letter == b"I":  # untyped, every value an int or None, some beyond int64
                parts.append(ExactInts(column[1]))
                continue
            if isinstance(column, list):
                if kind == C.TYPE_INTEGER:
                    parts.append(ExactInts(column))  # only listed when beyond int64
                else:
                    parts.append(batch_part(column, kind, True))
                continue
            if kind in _PART_TYPES:
                *buffers, null_count = column
                arrow_type = _PART_TYPES[kind]
            else:  # untyped, its values of one kind in this batch: which one comes first
                letter, *buffers, null_count = column
                if letter == b"n":
                    parts.append(pa.nulls(n_rows))  # as batch_part: nothing to type
                    continue
                arrow_type = _LETTER_TYPES[letter]
            parts.append(
                pa.Array.from_buffers(
                    arrow_type,
                    n_rows,
                    [None if b is None else pa.py_buffer(b) for b in buffers],
                    null_count=null_count,
                )
            )
        return parts

    def _rows(self, batch: bytes | bytearray | memoryview) -> tuple[list[Any], bool]:
        """The row structs and whether msgspec checked them against the column types; or,
        when only the stdlib can read the batch, its columns' values (unchecked)."""
        try:
            return self._typed.decode(batch), True
        except msgspec.ValidationError:
            try:
                return self._loose.decode(batch), False
            except msgspec.ValidationError:
                raise ServerError("The result's data.rows is not a list of objects.") from None
            except (msgspec.DecodeError, UnicodeDecodeError):
                return self._decode_stdlib(batch), False
        except (msgspec.DecodeError, UnicodeDecodeError):  # msgspec: invalid UTF-8 in a string
            return self._decode_stdlib(batch), False

    def _decode_stdlib(self, batch: bytes | bytearray | memoryview) -> _ColumnLists:
        # msgspec refuses NaN/Infinity tokens (old servers wrote them); the stdlib takes them.
        try:
            rows = json.loads(bytes(batch))
        except (ValueError, UnicodeDecodeError):
            raise _Malformed from None
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ServerError("The result's data.rows is not a list of objects.")
        return _ColumnLists([row.get(name) for row in rows] for name in self.names)


def plain_names(names: Sequence[str]) -> bool:
    """Whether each name is written as its own UTF-8 bytes between the quotes of a row key:
    no quote, backslash or control character (the server escapes those, and msgspec cannot
    name a struct field so), and no lone surrogate."""
    for name in names:
        if '"' in name or "\\" in name or any(ord(ch) < 0x20 for ch in name):
            return False
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            return False
    return True


def _scan_args(
    names: Sequence[str], types: Sequence[str | None], untyped_temporal: bool = False
) -> tuple[Any, ...]:
    """The compiled scanner's arguments for these columns (names as :func:`plain_names`): a
    letter per column for the Arrow type of its parts (:data:`_PART_TYPES`), "d"/"t" for dates
    and datetimes it reads itself (:class:`TemporalPart`), "a" if untyped ("A": and its text
    read as dates or datetimes where every value of the batch is one)."""
    untyped = "A" if untyped_temporal else "a"
    kinds = "".join(_scan_letter(kind) or untyped for kind in types)
    return tuple(name.encode("utf-8") for name in names), kinds.encode("ascii")


def _scan_letter(kind: str | None) -> str:
    """A typed column's letter; "" when untyped."""
    if kind in _TEMPORAL_LETTERS:
        return _TEMPORAL_LETTERS[kind]
    return _SCAN_LETTERS[_PART_TYPES[kind]] if kind in _PART_TYPES else ""


class _ColumnLists(list):
    """Each column's values of a batch only the stdlib could read (not row structs)."""

    __slots__ = ()


def _int64_part(rows: list[Any], getter: Any) -> pa.Array | None:
    """A checked integer column of the rows as int64 read straight into numpy (no list of
    the values first); ``None`` when a value is null or beyond int64 (then the list path)."""
    try:
        values = np.fromiter(map(getter, rows), dtype=np.int64, count=len(rows))
    except (TypeError, OverflowError):
        return None
    return pa.array(values)


@dataclass
class Columns:
    """The result's ``data.columns`` list, read before any row."""

    columns: list[dict[str, Any]]


@dataclass
class Batch:
    """Decoded rows: each column's part (see :meth:`RowDecoder.parts`)."""

    parts: list[Any]


@dataclass
class Finished:
    """The body with its rows removed (``"rows": []``), for the result's metadata."""

    document: bytes


@dataclass
class Whole:
    """The layout is not the expected one: here is the whole body to decode another way."""

    body: bytes


class _PrefixScanner:
    """Incremental tokenizer of the prefix; finds ``data.rows`` and ``data.columns``."""

    def __init__(self) -> None:
        self.pos = 0
        self.stack: list[tuple[bytes, str | None, int]] = []  # (bracket, key, start)
        self.key: str | None = None
        self.want_key = False
        self.columns: tuple[int, int] | None = None
        self.started = False

    def _data_level(self) -> bool:
        keys = [key for _, key, _ in self.stack]
        return keys in ([None, "query_result", "data"], [None, "data"])

    def feed(self, buf: bytes | bytearray) -> int | None:
        """Scan on: the index just after the rows' ``[``, ``None`` for more, ``-1`` if odd."""
        match = _TOKEN.match
        while True:
            token = match(buf, self.pos)
            if token is None or token.end() == len(buf):
                return None  # incomplete token (or may continue): wait for more bytes
            self.pos = token.end()
            string, punct, scalar = token.groups()
            if not self.started:
                if punct != b"{":
                    return _ODD
                self.started = True
            if string is not None:
                if self.stack and self.stack[-1][0] == b"{" and self.want_key:
                    self.key = json.loads(string)
                    self.want_key = False
                continue
            if scalar is not None:
                continue
            if punct in (b"{", b"["):
                parent_is_object = bool(self.stack) and self.stack[-1][0] == b"{"
                key = self.key if parent_is_object else None
                if punct == b"[" and key == "rows" and self._data_level():
                    return self.pos if self.columns is not None else _ODD
                self.stack.append((punct, key, token.end() - 1))
                self.want_key = punct == b"{"
                self.key = None
            elif punct in (b"}", b"]"):
                if not self.stack:
                    return _ODD
                bracket, key, start = self.stack.pop()
                if key == "columns" and bracket == b"[" and self._data_level():
                    self.columns = (start, self.pos)
                if not self.stack:
                    return _ODD  # the document ended without rows
            elif punct == b",":
                self.want_key = self.stack[-1][0] == b"{" if self.stack else False


class ResultSplitter:
    """Turn body chunks into :class:`Columns`, :class:`Batch` … and :class:`Finished` events.

    ``make_decoder(columns)`` returns the :class:`RowDecoder` for the column list, or ``None``
    when the fast path does not apply (then the events are one :class:`Whole`).
    """

    def __init__(self, batch_bytes: int = 4 << 20) -> None:
        self.batch_bytes = batch_bytes

    def events(
        self, chunks: Iterable[bytes], make_decoder: Any, pool: DecodePool | None = None
    ) -> Iterator[Any]:
        """The events of a body's chunks; with a ``pool`` of several workers the batches are
        decoded on its threads (see :meth:`_parallel`), the events still in body order."""
        it = iter(chunks)
        scanner = _PrefixScanner()
        prefix = bytearray()
        rows_at: int | None = None
        for chunk in it:
            prefix += chunk
            rows_at = scanner.feed(prefix)
            if rows_at is not None or len(prefix) > _MAX_PREFIX:
                break
        decoder = None
        if rows_at is not None and rows_at != _ODD and scanner.columns:
            start, end = scanner.columns
            columns = json.loads(bytes(prefix[start:end]))
            decoder = make_decoder(columns) if isinstance(columns, list) else None
            if decoder is not None:
                yield Columns(columns)
        if decoder is None or rows_at is None:  # no decoder without a rows position
            yield Whole(bytes(prefix) + b"".join(it))
            return
        head = bytes(prefix[:rows_at])
        # ``buf`` always starts with "[" followed by whole rows; each batch is decoded in place
        # by writing "]" after its last row (no copy of the batch), then dropped from the front.
        buf = prefix[rows_at - 1 :]
        del prefix
        if pool is not None and pool.workers > 1:
            while True:
                buf, cut_in_value = yield from self._parallel(buf, it, decoder, pool)
                if not cut_in_value:
                    break
                yield from self._recut(buf, decoder)
        for chunk in it:
            buf += chunk
            if len(buf) < self.batch_bytes:
                continue
            batch, consumed = self._cut(buf, decoder)
            if batch is not None:
                del buf[:consumed]
                buf[0] = _OPEN
                yield batch
        yield from self._finish(head, buf, decoder)

    def _parallel(
        self, buf: bytearray, it: Iterator[bytes], decoder: RowDecoder, pool: DecodePool
    ) -> Generator[Any, None, tuple[bytearray, bool]]:
        """Decode batches on the pool's threads while the body is read, in order, with at
        most :func:`in_flight` batches submitted and not yet handed on; returns what is left
        of ``buf`` and whether a cut fell inside a value: ``False``, the body has ended and
        the last rows are left; ``True``, the rows from the failed batch on, put back
        together for :meth:`_recut`.

        A batch is cut at the last row boundary without decoding it first, so the cut may
        fall inside a string (a text value holding "},{"). That batch then fails to decode
        (see :func:`_decode_closed`), and so do none of the batches before it: each starts
        where the previous one validly ended.
        """
        pending: deque[_Pending] = deque()
        limit = in_flight(pool.workers)
        # A decoded batch's buffer takes the next rows: memory the process already has (a
        # new megabyte for every batch is fresh pages, and a page fault each 4 kB). Only
        # buf[:filled] holds the body; a chunk is copied over the rest (no resize while it fits).
        # A new buffer is made only when none is spare: never more than ``limit`` + 1.
        spare: list[bytearray] = []
        filled = len(buf)
        # The first round of batches is a quarter of the size, so that a body of a few
        # batches still keeps every worker busy; then fewer, larger parts (less to join and to
        # hand back later: a wide result's 1 MB batch is some 1,000 rows).
        first_bytes, submitted = max(1, self.batch_bytes // 4), 0
        try:
            for chunk in it:
                size = memoryview(chunk).nbytes  # (len() counts items: a chunk may not be bytes)
                buf[filled : filled + size] = chunk
                filled += size
                if filled < (self.batch_bytes if submitted >= limit else first_bytes):
                    continue
                found = _last_row_cut(buf, filled)
                if found is None:
                    continue
                brace, next_row = found
                # The batch keeps this buffer (its byte after the "}" becomes "]" while it is
                # decoded) and the rows after the cut start another, "[" standing for the
                # byte before the next row's "{": each byte of the body is copied once, and
                # the threads never share a buffer.
                batch, buf = buf, spare.pop() if spare else bytearray(b"[")
                rest = filled - next_row
                with memoryview(batch) as view:
                    buf[0:1] = b"["
                    buf[1 : 1 + rest] = view[next_row:filled]
                filled = 1 + rest
                after_brace = batch[brace + 1]  # before the decode writes "]" there
                future = pool.submit(_decode_closed, batch, brace, decoder)
                pending.append((future, batch, brace, after_brace, next_row))
                submitted += 1
                while len(pending) >= limit:
                    batch_event = _take(pending, spare)
                    if batch_event is None:
                        del buf[filled:]
                        return _rejoin(pending, buf), True
                    yield batch_event
            del buf[filled:]
            while pending:
                batch_event = _take(pending, spare)
                if batch_event is None:
                    return _rejoin(pending, buf), True
                yield batch_event
            return buf, False
        finally:
            for future, *_ in pending:
                future.cancel()

    def _recut(self, buf: bytearray, decoder: RowDecoder) -> Iterator[Batch]:
        """The rows put back together after a cut fell inside a value, on this thread in
        batches of about ``batch_bytes``, each cut checked by decoding it (which moves it
        before such a value); the rest of ``buf`` (changed in place) goes back to the pool."""
        while len(buf) >= self.batch_bytes:
            batch, consumed = self._cut(buf, decoder, self.batch_bytes)
            if batch is None:  # a value longer than a batch: cut after it, if it has ended
                batch, consumed = self._cut(buf, decoder)
                if batch is None:
                    return
            del buf[:consumed]
            buf[0] = _OPEN
            yield batch

    def _cut(
        self, buf: bytearray, decoder: RowDecoder, end: int | None = None
    ) -> tuple[Batch | None, int]:
        """Decode the complete rows at the front of ``buf`` (those before ``end``); return
        them and where the rest starts (the byte before the next row, to become "[")."""
        decoded = _decode_before(buf, decoder, _last_row_cut, _CUT_ATTEMPTS, end)
        if decoded is None:
            return None, 0  # keep accumulating; the next chunk brings new boundaries
        parts, next_row = decoded
        return Batch(parts), next_row - 1

    def _finish(self, head: bytes, buf: bytearray, decoder: RowDecoder) -> Iterator[Any]:
        """The last rows, and the document without rows for the metadata."""
        stripped = bytes(buf[1:]).lstrip(b" \t\r\n")
        if stripped.startswith(b"]"):  # no rows at all
            yield Finished(head + stripped)
            return
        decoded = _decode_before(buf, decoder, _last_close, _END_ATTEMPTS)
        if decoded is None:
            raise ServerError("The result body is not valid JSON (the rows list does not end).")
        parts, bracket = decoded
        yield Batch(parts)
        yield Finished(head + bytes(buf[bracket:]))


# A batch on the pool: its decode, its buffer, its "}" (index), the byte that followed it
# (the decode writes "]" there) and where the next row's "{" is (the buffer goes on past it).
_Pending = tuple[Future[list[Any]], bytearray, int, int, int]


def in_flight(workers: int) -> int:
    """How many batches a read keeps submitted and not yet handed on: enough that no worker
    waits while the oldest is finished, few enough that memory stays a few batches."""
    return 2 * workers


def _take(pending: deque[_Pending], spare: list[bytearray]) -> Batch | None:
    """The oldest batch's parts, waiting for them, its buffer put in ``spare``; ``None`` (left
    in ``pending``) when its cut fell inside a value."""
    future, batch, *_ = pending[0]
    try:
        parts = future.result()
    except _Malformed:
        return None
    pending.popleft()
    spare.append(batch)  # the parts hold none of it: the scanner and msgspec copy what they keep
    return Batch(parts)


def _rejoin(pending: deque[_Pending], buf: bytearray) -> bytearray:
    """The text of the pending batches and ``buf`` as one, as it was before the cuts."""
    for future, *_ in pending:
        future.cancel()
    joined = bytearray()
    for future, batch, brace, after_brace, next_row in pending:
        _wait_quietly(future)  # it may still read its batch
        batch[brace + 1] = after_brace  # a decoded batch keeps its "]" there
        with memoryview(batch) as view:
            joined += view[1 if joined else 0 : next_row]  # (the rest is in the next one)
    joined += buf[1:]
    pending.clear()
    return joined


def _wait_quietly(future: Future[Any]) -> None:
    if not future.cancelled():
        try:
            future.result()
        except Exception:  # noqa: BLE001, S110 - a batch cut at a wrong place: its answer is dropped
            pass


def _decode_before(
    buf: bytearray,
    decoder: RowDecoder,
    boundary: Callable[[bytearray, int], tuple[int, int] | None],
    attempts: int,
    end: int | None = None,
) -> tuple[list[Any], int] | None:
    """Decode the rows up to the last ``boundary`` (a row's "}" and what follows it) at which
    they are valid JSON: a "}" inside a string or a nested value makes them invalid, so an
    earlier boundary is tried, up to ``attempts`` times. Returns the parts and the index
    after the "}", or ``None``. Boundaries are looked for before ``end`` (default: all)."""
    end = len(buf) if end is None else min(end, len(buf))
    for _ in range(attempts):
        found = boundary(buf, end)
        if found is None:
            return None
        brace, after = found
        try:
            return _decode_closed(buf, brace, decoder), after
        except _Malformed:
            end = brace
    return None


def _decode_closed(buf: bytearray, brace: int, decoder: RowDecoder) -> list[Any]:
    """Decode ``buf[:brace + 1]`` + "]" in place into column parts; ``buf`` is unchanged when
    it fails."""
    saved = buf[brace + 1]
    buf[brace + 1] = _CLOSE
    try:
        with memoryview(buf) as view, view[: brace + 2] as batch:
            return decoder.parts(batch)
    except BaseException:
        buf[brace + 1] = saved
        raise


def _last_row_cut(buf: bytes | bytearray, end: int) -> tuple[int, int] | None:
    """The last ``}`` … ``{`` row boundary before ``end``: (index of ``}``, index of ``{``);
    nothing from ``end`` on is read (a reused buffer holds old rows there)."""
    near = max(0, end - (64 << 10))  # rows are short: look near the end before the whole
    best = max(buf.rfind(b"},{", near, end), buf.rfind(b"}, {", near, end))
    if best < 0:
        before = min(near + 3, end)
        best = max(buf.rfind(b"},{", 0, before), buf.rfind(b"}, {", 0, before))
    if best >= 0:
        return best, buf.index(b"{", best + 1)
    window = max(0, end - (1 << 20))
    last = None
    for last in _ROW_CUT.finditer(buf, window, end):  # noqa: B007 - want the last match
        pass
    if last is None:
        return None
    return last.start(), last.end() - 1


def _last_close(buf: bytes | bytearray, end: int) -> tuple[int, int] | None:
    """The last ``}`` ``]`` (end of the rows list?) before ``end``: (``}`` index, ``]`` index)."""
    pos = buf.rfind(b"]", 0, end)
    while pos > 0:
        brace = pos - 1
        while brace >= 0 and buf[brace] in b" \t\r\n":
            brace -= 1
        if brace >= 0 and buf[brace] == 0x7D:  # "}"
            return brace, pos
        pos = buf.rfind(b"]", 0, pos)
    return None


# --------------------------------------------------------------------------- batch → Arrow

_PART_TYPES = {
    C.TYPE_INTEGER: pa.int64(),
    C.TYPE_FLOAT: pa.float64(),
    C.TYPE_BOOLEAN: pa.bool_(),
    C.TYPE_STRING: pa.string(),
    C.TYPE_DATE: pa.string(),  # parsed once for the whole column (one rule for all rows)
    C.TYPE_DATETIME: pa.string(),
}
_SCAN_LETTERS = {pa.int64(): "i", pa.float64(): "f", pa.bool_(): "b", pa.string(): "s"}
_TEMPORAL_LETTERS = {C.TYPE_DATE: "d", C.TYPE_DATETIME: "t"}
_LETTER_TYPES = {letter.encode(): arrow_type for arrow_type, letter in _SCAN_LETTERS.items()}
_PART_KINDS: dict[str, set[type]] = {
    C.TYPE_INTEGER: {int},
    C.TYPE_FLOAT: {float},  # unchecked ints in a float column: the whole-column rule decides
    C.TYPE_BOOLEAN: {bool},
    C.TYPE_STRING: {str},
    C.TYPE_DATE: {str},
    C.TYPE_DATETIME: {str},
}
_ARROW_OF_KIND = {int: pa.int64(), float: pa.float64(), bool: pa.bool_(), str: pa.string()}


def batch_part(values: list[Any], col_type: str | None, checked: bool) -> Any:
    """One batch of one column: an Arrow array when the values surely fit, else the list.

    A list part keeps the exact JSON values; ``frames`` then builds the whole column from all
    values the careful way, as ``decode_result`` does.
    """
    kind = col_type if col_type in _PART_TYPES else None
    # Checked float values are ints, floats or None: pyarrow refuses an int a double cannot
    # hold exactly (ArrowInvalid → the list, and the whole-column rule), so no type scan.
    if kind is None or not checked:
        kinds = set(map(type, values))
        kinds.discard(type(None))
        if not kinds:
            return pa.nulls(len(values))
        wanted = _PART_KINDS.get(kind) if kind is not None else None
        if kind is None:
            wanted = kinds if len(kinds) == 1 and next(iter(kinds)) in _ARROW_OF_KIND else None
        if wanted is None or not kinds <= wanted:
            return values
        arrow_type = _ARROW_OF_KIND[next(iter(kinds))] if kind is None else _PART_TYPES[kind]
    else:
        arrow_type = _PART_TYPES[kind]
    try:
        # the C allocator hands freed builder buffers back to the OS, where Arrow's default
        # pool keeps them (about 40 MB more peak RSS for 1M rows)
        return pa.array(values, type=arrow_type, memory_pool=_memory.plain_pool())
    except OverflowError:
        if kind == C.TYPE_INTEGER and checked:
            return ExactInts(values)  # msgspec checked them: ints (some beyond int64) or None
        if kind is None and kinds == {int}:
            return ExactInts(values)  # untyped, all ints (some beyond int64) or None: the same
        return values
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeEncodeError):  # (a lone surrogate)
        return values


class TemporalPart:
    """A batch of a date or datetime column the scanner read itself: ``array`` is ``date32``,
    ``timestamp[ms]`` or ``timestamp[ms, UTC]``, the values Arrow's cast of the same text
    gives, and ``layout`` says how the batch wrote them (see ``_scan.c``), so that
    :meth:`text` gives the server's text back when the column's rule needs it (batches that
    disagree: naive and zoned, or text the scanner left as it was)."""

    __slots__ = ("array", "layout")

    def __init__(self, array: pa.Array, layout: bytes) -> None:
        self.array = array
        self.layout = layout

    def __len__(self) -> int:
        return len(self.array)

    @property
    def nbytes(self) -> int:
        return int(self.array.nbytes)

    def text(self) -> pa.Array:
        """The values as the server wrote them (a ``string`` array, nulls kept)."""
        array = self.array if self.array.offset == 0 else pa.concat_arrays([self.array])
        validity, values = array.buffers()
        offsets, data = _scan.temporal_text(values, validity, len(array), self.layout)
        return pa.Array.from_buffers(
            pa.string(),
            len(array),
            [validity, pa.py_buffer(offsets), pa.py_buffer(data)],
            null_count=array.null_count,
        )


def _temporal_part(n_rows: int, column: tuple[Any, ...]) -> Any:
    """A date or datetime column's answer from the scanner as its part: a
    :class:`TemporalPart`, or text (values it left as they were, or all nulls) as the
    msgspec path's part for the same values."""
    letter, *buffers, null_count = column[:4] if column[0] == b"t" else column
    if letter == b"n":
        return pa.nulls(n_rows, pa.string())  # what batch_part makes of nulls only
    if letter == b"s":
        arrow_type, layout = pa.string(), b""
    elif letter == b"d":
        arrow_type, layout = pa.date32(), b"d"
    else:
        layout = column[4]
        arrow_type = pa.timestamp("ms", tz="UTC" if len(layout) > 2 else None)
    array = pa.Array.from_buffers(
        arrow_type,
        n_rows,
        [None if b is None else pa.py_buffer(b) for b in buffers],
        null_count=null_count,
    )
    return array if letter == b"s" else TemporalPart(array, layout)


class ExactInts(list):
    """A batch of an integer (or untyped) column holding values beyond int64, all checked to
    be Python ints or ``None``: the column becomes ``object`` without looking at each value
    again."""

    __slots__ = ()
