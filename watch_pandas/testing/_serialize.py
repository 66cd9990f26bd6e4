"""Wire shapes of the local server: users, queries, dashboards, data sources, results (JSON/CSV).

Result bodies are generators of bytes built from the stored rows file (one JSON object per line),
so a million-row result is streamed in chunks instead of being rebuilt in memory; the
``*_rendered`` variants build the whole body per request instead, as Redash does.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import hashlib
import importlib.util
import io
import json
import operator
import re
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

from .. import _constants as C
from . import _engine
from ._store import StoredResult, iso_z

_CHUNK = 1 << 20


def _gravatar(email: str) -> str:
    digest = hashlib.md5(email.lower().encode()).hexdigest()
    return f"https://www.gravatar.com/avatar/{digest}?s=40&d=identicon"


def user_json(user: dict[str, Any], *, short: bool = False) -> dict[str, Any]:
    """A user object (the ``short`` form is what dashboards embed)."""
    out = {
        "id": user["id"],
        "name": user["name"],
        "email": user["email"],
        "profile_image_url": _gravatar(user["email"]),
    }
    if short:
        return out
    out.update(
        {
            "groups": [1] if user.get("view_only") else [1, 2],
            "updated_at": user["updated_at"],
            "created_at": user["created_at"],
            "disabled_at": None,
            "is_disabled": False,
            "active_at": user["updated_at"],
            "is_invitation_pending": False,
            "is_email_verified": True,
            "auth_type": "password",
        }
    )
    return out


def visualization_json(vis: dict[str, Any]) -> dict[str, Any]:
    return {
        k: vis[k]
        for k in ("id", "type", "name", "description", "options", "updated_at", "created_at")
    }


def query_json(
    query: dict[str, Any],
    users: dict[int, dict[str, Any]],
    *,
    mode: str,
    result: StoredResult | None = None,
    api_user: bool = False,
    can_edit: bool | None = None,
) -> dict[str, Any]:
    """A query object; ``mode`` is "list" (stats, no visualizations), "recent" (owner and
    last editor as ids only), "single" or "embedded". ``can_edit`` is sent only when given
    (a real server adds it to ``GET /api/queries/<id>`` alone)."""
    out: dict[str, Any] = {
        "id": query["id"],
        "latest_query_data_id": query.get("latest_query_data_id"),
        "name": query["name"],
        "description": query.get("description"),
        "query": query["query"],
        "query_hash": query["query_hash"],
        "schedule": query.get("schedule"),
        "api_key": query["api_key"],
        "is_archived": query["is_archived"],
        "is_draft": query["is_draft"],
        "updated_at": query["updated_at"],
        "created_at": query["created_at"],
        "data_source_id": query["data_source_id"],
        "options": query.get("options") or {},
        "version": query["version"],
        "tags": query.get("tags") or [],
        "is_safe": query["is_safe"],
    }
    if mode == "recent":
        out["user_id"] = query["user_id"]
        out["last_modified_by_id"] = query.get("last_modified_by_id")
        out["is_favorite"] = False
        return out
    owner = users.get(query["user_id"])
    out["user"] = user_json(owner) if owner else None
    if mode == "list":
        out["last_modified_by_id"] = query.get("last_modified_by_id")
        out["retrieved_at"] = iso_z(result.retrieved_at) if result else None
        out["runtime"] = result.runtime if result else None
        out["is_favorite"] = False
        return out
    modifier = users.get(query.get("last_modified_by_id") or -1)
    out["last_modified_by"] = user_json(modifier) if modifier else None
    if mode == "single":
        out["visualizations"] = [visualization_json(v) for v in query.get("visualizations", [])]
        if not api_user:
            out["is_favorite"] = False
            if can_edit is not None:
                out["can_edit"] = can_edit
    return out


# What a user sees as the type: the typed source models PostgreSQL's runner ("pg")
SOURCE_TYPE_NAMES = {_engine.SQLITE: "sqlite", _engine.TYPED_SQLITE: "pg"}
# ``GET /api/data_sources/types``: the runners this server models (docs/testing.md)
SOURCE_TYPES = [
    {
        "name": "PostgreSQL",
        "type": "pg",
        "configuration_schema": {
            "type": "object",
            "properties": {
                "user": {"type": "string"},
                "password": {"type": "string"},
                "host": {"type": "string", "default": "127.0.0.1"},
                "port": {"type": "number", "default": 5432},
                "dbname": {"type": "string", "title": "Database Name"},
            },
            "order": ["host", "port", "user", "password"],
            "required": ["dbname"],
            "secret": ["password"],
        },
    },
    {
        "name": "Sqlite",
        "type": "sqlite",
        "configuration_schema": {
            "type": "object",
            "properties": {"dbpath": {"type": "string", "title": "Database Path"}},
            "required": ["dbpath"],
        },
    },
]


def data_source_json(source: dict[str, Any], *, full: bool = False) -> dict[str, Any]:
    """A listed data source, or (``full``) what ``GET /api/data_sources/<id>`` shows admins:
    no ``view_only``, but ``options``, the queue names and ``groups`` (group id → view only;
    everyone is in the default group, id 2)."""
    out: dict[str, Any] = {
        "id": source["id"],
        "name": source["name"],
        "type": SOURCE_TYPE_NAMES.get(source["type"], source["type"]),
        "syntax": "sql",
        "paused": int(bool(source.get("paused"))),
        "pause_reason": source.get("pause_reason"),
        "supports_auto_limit": True,
    }
    if not full:
        out["view_only"] = bool(source.get("view_only", False))
        return out
    out["options"] = {"dbpath": source["path"]}
    out["queue_name"] = "queries"
    out["scheduled_queue_name"] = "scheduled_queries"
    out["groups"] = {"2": False}
    return out


# -- results -------------------------------------------------------------------------------
def _rows_bytes(result: StoredResult) -> Iterator[bytes]:
    """The stored rows as ``row,row,row`` (newline separators become commas, 1:1 in size)."""
    with open(result.rows_path, "rb") as fh:
        while True:
            chunk = fh.read(_CHUNK)
            if not chunk:
                return
            yield chunk.replace(b"\n", b",")


def result_json(result: StoredResult, *, trimmed: bool = False) -> tuple[Iterator[bytes], int]:
    """``{"query_result": ...}`` as chunks plus its exact length.

    ``trimmed`` is the inline reply for query keys: only ``data`` and ``retrieved_at``.
    """
    dumps = json.dumps
    columns = dumps(result.columns, ensure_ascii=False)
    if trimmed:
        head = '{"query_result": {"data": {"columns": ' + columns + ', "rows": ['
        tail = ']}, "retrieved_at": ' + dumps(iso_z(result.retrieved_at)) + "}}"
    else:
        head = (
            '{"query_result": {"id": '
            + str(result.id)
            + ', "query_hash": '
            + dumps(result.query_hash)
            + ', "query": '
            + dumps(result.query, ensure_ascii=False)
            + ', "data": {"columns": '
            + columns
            + ', "rows": ['
        )
        tail = (
            ']}, "data_source_id": '
            + str(result.data_source_id)
            + ', "runtime": '
            + repr(float(result.runtime))
            + ', "retrieved_at": '
            + dumps(iso_z(result.retrieved_at))
            + "}}"
        )
    head_b, tail_b = head.encode(), tail.encode()
    size = len(head_b) + result.rows_path.stat().st_size + len(tail_b)

    def chunks() -> Iterator[bytes]:
        yield head_b
        yield from _rows_bytes(result)
        yield tail_b

    return chunks(), size


def result_json_rendered(result: StoredResult, *, trimmed: bool = False) -> bytes:
    """The same body as ``result_json``, built the way Redash builds it: every stored row is
    loaded and the whole ``{"query_result": ...}`` object is json-dumped before the first byte
    (``serialize="per-request"``; the real server spends seconds here for a large result)."""
    return b"".join(result_json_rendered_parts(result, trimmed=trimmed))


def result_json_rendered_parts(result: StoredResult, *, trimmed: bool = False) -> list[bytes]:
    """:func:`result_json_rendered` in the pieces it is built from (sent one after another,
    they are its bytes). The rows are loaded and dumped some thousands at a time, so that in
    a server with threads this work does not hold the interpreter for seconds at once."""
    dumps = functools.partial(json.dumps, ensure_ascii=False, allow_nan=False)
    rows: list[bytes] = []
    for batch in _decoded_rows(result.rows_path, block_bytes=_CHUNK):
        if batch:
            rows += [b", " if rows else b"[", dumps(batch)[1:-1].encode("utf-8")]
    rows.append(b"]" if rows else b"[]")
    placeholder = "rows-" + uuid.uuid4().hex  # where the rows go in the dumped object
    body: dict[str, Any] = {}
    if not trimmed:
        body.update(id=result.id, query_hash=result.query_hash, query=result.query)
    body["data"] = {"columns": result.columns, "rows": placeholder}
    if not trimmed:
        body.update(data_source_id=result.data_source_id, runtime=float(result.runtime))
    body["retrieved_at"] = iso_z(result.retrieved_at)
    # the placeholder's last occurrence is the rows' (only numbers and a date follow them)
    head, _, tail = dumps({"query_result": body}).rpartition(dumps(placeholder))
    return [head.encode("utf-8"), *rows, tail.encode("utf-8")]


def result_dict(result: StoredResult, *, trimmed: bool = False) -> dict[str, Any]:
    """The same object as ``result_json`` but decoded (for small results and embedding)."""
    body, _ = result_json(result, trimmed=trimmed)
    return json.loads(b"".join(body))["query_result"]


def moment_to_strftime(fmt: str) -> str:
    """Redash's ``_convert_format``: moment tokens to strftime, in its replacement order."""
    return (
        fmt.replace("DD", "%d")
        .replace("MM", "%m")
        .replace("SSS", "%f")
        .replace("ss", "%S")
        .replace("HH", "%H")
        .replace("mm", "%M")
        .replace("YYYY", "%Y")
        .replace("YY", "%y")
    )


_SLICES = {
    "%d": (8, 10),
    "%m": (5, 7),
    "%Y": (0, 4),
    "%y": (2, 4),
    "%H": (11, 13),
    "%M": (14, 16),
    "%S": (17, 19),
}


def _datetime_converter(fmt: str) -> Callable[[Any], Any]:
    """Reformat ISO text like ``strftime(fmt)`` of ``fromisoformat(value)``.

    Values in the canonical form the server writes (``YYYY-MM-DD`` / ``YYYY-MM-DDTHH:MM:SS``
    with optional ``.fff`` and ``Z``) are sliced directly — the same wall-time fields strftime
    would print, but fast enough for a million rows; anything else goes through datetime.
    """
    # The format as a %-template over the value's slices (all fetched in one C call);
    # a directive the slices cannot print (%b, %s, a lone %) sends every value to strftime.
    template, cuts, sliceable = [], [], True
    for token in re.split(r"(%.?)", fmt, flags=re.DOTALL):
        if token in _SLICES:
            template.append("%s")
            cuts.append(slice(*_SLICES[token]))
        elif token == "%f":  # milliseconds (000 when the value has none), then 000 micro
            template.append("%s000")
            cuts.append(slice(20, 23))
        elif token == "%%":
            template.append("%%")
        elif token.startswith("%"):
            sliceable = False
        elif token:
            template.append(token.replace("%", "%%"))
    layout = "".join(template)
    if len(cuts) > 1:
        fields: Callable[[str], tuple[str, ...]] = operator.itemgetter(*cuts)
    else:
        fields = lambda v: tuple(v[c] for c in cuts)  # noqa: E731

    def sliced(value: str) -> str:
        return layout % fields(value)

    def sliced_with_millis(value: str) -> str:
        if value[19:20] != ".":
            value = value[:19] + ".000" + value[19:]
        return layout % fields(value)

    fast = sliced_with_millis if "%f" in fmt else sliced

    with_time = any(t in fmt for t in ("%H", "%M", "%S", "%f"))
    canonical_length = 19 if with_time else 10

    def slow(value: Any) -> Any:
        try:
            # Python 3.10's fromisoformat does not read a trailing "Z"
            iso = value[:-1] + "+00:00" if value.endswith("Z") else value
            return dt.datetime.fromisoformat(iso).strftime(fmt)
        except (TypeError, ValueError, AttributeError):
            return value

    def convert(value: Any) -> Any:
        if not value:
            return value
        if (
            sliceable
            and isinstance(value, str)
            and len(value) >= canonical_length
            and value[4:5] == "-"
            and value[7:8] == "-"
            and (not with_time or value[10:11] == "T")
        ):
            return fast(value)
        return slow(value)

    return convert


def _bool_converter(value: Any) -> Any:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return value


def _decoded_rows(path: Any, block_bytes: int = 4 * _CHUNK) -> Iterator[list[dict[str, Any]]]:
    """Rows of a stored result in batches (one ``json.loads`` per ``block_bytes`` of rows)."""
    with open(path, "rb") as fh:
        rest = b""
        while True:
            block = fh.read(block_bytes)
            if not block:
                break
            block = rest + block
            cut = block.rfind(b"\n")
            if cut < 0:
                rest = block
                continue
            rest = block[cut + 1 :]
            yield json.loads(b"[" + block[:cut].replace(b"\n", b",") + b"]")
        if rest.strip():
            yield json.loads(b"[" + rest + b"]")


def result_dsv(
    result: StoredResult, *, delimiter: str, date_format: str, time_format: str
) -> Iterator[bytes]:
    """CSV/TSV as ``csv.DictWriter`` (excel dialect, ``\\r\\n``) with the org date formats."""
    names = [c["name"] for c in result.columns]
    date_fmt = moment_to_strftime(date_format)
    datetime_fmt = moment_to_strftime(f"{date_format} {time_format}")
    special: list[tuple[str, Callable[[Any], Any]]] = []
    for column in result.columns:
        if column.get("type") == C.TYPE_BOOLEAN:
            special.append((column["name"], _bool_converter))
        elif column.get("type") == C.TYPE_DATE:
            special.append((column["name"], _datetime_converter(date_fmt)))
        elif column.get("type") == C.TYPE_DATETIME:
            special.append((column["name"], _datetime_converter(datetime_fmt)))
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(names)
    if len(names) > 1:
        pick: Callable[[dict[str, Any]], Any] = operator.itemgetter(*names)
    else:
        pick = lambda row: tuple(row[n] for n in names)  # noqa: E731
    for rows in _decoded_rows(result.rows_path):
        for row in rows:
            for name, convert in special:
                if name in row:
                    row[name] = convert(row[name])
        position = buffer.tell()
        try:
            writer.writerows(map(pick, rows))
        except KeyError:  # a row lacks a column (treated as null): redo this batch slowly
            buffer.seek(position)
            buffer.truncate()
            writer.writerows([[row.get(n) for n in names] for row in rows])
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
    tail = buffer.getvalue()
    if tail:
        yield tail.encode("utf-8")


def xlsx_available() -> bool:
    """Whether the optional workbook writer (xlsxwriter, in the server extra) is installed."""
    return importlib.util.find_spec("xlsxwriter") is not None


def result_xlsx(result: StoredResult) -> bytes:
    """The result as a workbook: sheet ``result``, a header row of column names, then the
    JSON values as they are (docs/protocol.md#xlsx-downloads): numbers and booleans as such,
    text as text (never turned into formulas or links), lists and objects as Python reprs,
    null as an empty cell."""
    import xlsxwriter  # type: ignore[import-untyped]  # ships no type information

    names = [c["name"] for c in result.columns]
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet("result")
    for col, name in enumerate(names):
        sheet.write_string(0, col, name)
    row_no = 0
    for rows in _decoded_rows(result.rows_path):
        for row in rows:
            row_no += 1
            for col, name in enumerate(names):
                _write_cell(sheet, row_no, col, row.get(name))
    book.close()
    return out.getvalue()


def _write_cell(sheet: Any, row: int, col: int, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool):
        sheet.write_boolean(row, col, value)
    elif isinstance(value, (int, float)) and abs(value) < 1e308:
        sheet.write_number(row, col, value)
    elif isinstance(value, str):
        sheet.write_string(row, col, value)
    else:  # lists, objects, integers too big for a spreadsheet number
        sheet.write_string(row, col, str(value))


def download_filename(
    result: StoredResult, query: dict[str, Any] | None, ext: str
) -> dict[str, str]:
    """``Content-Disposition`` options (filename / filename*), per
    docs/protocol.md#fetching-results."""
    if query is not None:
        name = re.sub(r'[<>:"\\/|?*]', " ", query["name"])
        name = re.sub(r"\s+", "_", name.strip()) or str(query["id"])
    else:
        name = str(result.id)
    filename = f"{name}_{result.retrieved_at.strftime('%Y_%m_%d')}.{ext}"
    try:
        filename.encode("ascii")
    except UnicodeEncodeError:
        ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
        return {"filename": ascii_name, "filename*": "UTF-8''" + quote(filename, safe="")}
    return {"filename": filename}
