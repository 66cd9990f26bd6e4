"""Executions (saved and ad-hoc), reading results (JSON, CSV, TSV), jobs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from werkzeug.wrappers import Request, Response

from .. import _serialize as S
from .._backend import (
    NOT_FOUND,
    SERIALIZE_PER_REQUEST,
    Backend,
    Caller,
    Refusal,
    require_user,
)
from .._jobs import Job
from .._renderers import PassedOnBody
from .._store import StoredResult
from .common import body_of, get_query, json_response, to_int

XLSX_NEEDS_WRITER = (
    '.xlsx downloads need xlsxwriter: pip install "watch-pandas[server]" (or use .json, '
    ".csv or .tsv)."
)
NO_CACHED = "No cached result found for this query."
NO_PERMISSION = "You do not have permission to run queries with this data source."
CONTENT_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=UTF-8",
    "tsv": "text/tab-separated-values; charset=UTF-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def max_age_of(body: dict[str, Any]) -> int:
    max_age = body.get("max_age", -1)
    return -1 if max_age is None else int(max_age)  # int("x") → 500, as upstream


def run_reply(backend: Backend, caller: Caller, outcome: StoredResult | Job) -> Response:
    """What an execution answers: the cached result it found, or the job making a new one."""
    if isinstance(outcome, Job):
        return json_response({"job": outcome.to_json()})
    return result_response(backend, outcome, trimmed=caller.is_api)


def query_execute(backend: Backend, request: Request, caller: Caller, query_id: str) -> Response:
    query = get_query(backend, query_id)
    body = body_of(request)
    if not isinstance(body, dict):
        body = {}
    max_age = max_age_of(body)
    backend.check_can_execute(caller, query)
    definitions = (query.get("options") or {}).get("parameters") or []
    auto_limit = body.get(
        "apply_auto_limit", (query.get("options") or {}).get("apply_auto_limit", False)
    )
    outcome = backend.run(
        template=query["query"],
        definitions=definitions,
        values=body.get("parameters") or {},
        data_source=backend.store.get("data_sources", query["data_source_id"]),
        query_id=query["id"],
        apply_auto_limit=bool(auto_limit),
        max_age=max_age,
    )
    return run_reply(backend, caller, outcome)


def query_refresh(backend: Backend, request: Request, caller: Caller, query_id: str) -> Response:
    if caller.is_api:
        raise Refusal(403, "Please use a user API key.")
    query = get_query(backend, query_id)
    backend.check_can_execute(caller, query)
    values = {k[2:]: v for k, v in request.args.items() if k.startswith("p_")}
    outcome = backend.run(
        template=query["query"],
        definitions=(query.get("options") or {}).get("parameters") or [],
        values=values,
        data_source=backend.store.get("data_sources", query["data_source_id"]),
        query_id=query["id"],
        apply_auto_limit=False,
        max_age=0,
    )
    return run_reply(backend, caller, outcome)


def adhoc_execute(backend: Backend, request: Request, caller: Caller) -> Response:
    user = require_user(caller)
    body = body_of(request)
    if not isinstance(body, dict):
        body = {}
    sql = body["query"]  # KeyError → 500, as upstream
    max_age = max_age_of(body)
    ds_id = body.get("data_source_id")
    if ds_id is None:
        raise Refusal(401, "Please select data source to run this query.", job=True)
    source = backend.store.get("data_sources", to_int(ds_id))
    if source is None:
        raise RuntimeError("unknown data source")  # → 500, as upstream
    if user.get("view_only"):
        raise Refusal(403, NO_PERMISSION, job=True)
    values = body.get("parameters")
    if values is None:
        values = {k[2:]: v for k, v in request.args.items() if k.startswith("p_")}
    query_id = body.get("query_id")
    outcome = backend.run(
        template=sql,
        definitions=None,
        values=values,
        data_source=source,
        query_id=query_id if isinstance(query_id, int) else None,
        apply_auto_limit=bool(body.get("apply_auto_limit", False)),
        max_age=max_age,
    )
    return run_reply(backend, caller, outcome)


def check_extension(ext: str | None) -> None:
    """A download format the local server makes; anything else is a 500 as upstream. xlsx
    needs the optional writer: without it a clear 501 says what to install."""
    if ext is not None and ext not in CONTENT_TYPES:
        raise ValueError(f"unknown extension {ext!r}")
    if ext == "xlsx" and not S.xlsx_available():
        raise Refusal(501, XLSX_NEEDS_WRITER)


def result_response(
    backend: Backend,
    result: StoredResult,
    *,
    trimmed: bool = False,
    ext: str = "json",
    query: dict[str, Any] | None = None,
    attachment: bool = False,
    cache_control: bool = False,
) -> Response:
    headers: dict[str, str] = {}
    body: bytes | Iterable[bytes]
    per_request = backend.serialize == SERIALIZE_PER_REQUEST
    if ext == "json" and per_request:
        body, size = backend.renderers.render_json(result, trimmed=trimmed)
        headers["Content-Length"] = str(size)
    elif ext == "json":
        body, size = S.result_json(result, trimmed=trimmed)
        headers["Content-Length"] = str(size)
    elif ext in ("csv", "tsv"):
        date_format, time_format = backend.date_formats()
        lines = S.result_dsv(
            result,
            delimiter="," if ext == "csv" else "\t",
            date_format=date_format,
            time_format=time_format,
        )
        # per request: the whole text first, as Redash's handler does
        body = b"".join(lines) if per_request else lines
    elif ext == "xlsx":
        body = S.result_xlsx(result)
    else:
        raise ValueError(f"unknown extension {ext!r}")  # → 500, as upstream
    # a helper's body goes out as it is (see _renderers.send_through_sockets)
    response = Response(
        body,
        content_type=CONTENT_TYPES[ext],
        headers=headers,
        direct_passthrough=isinstance(body, PassedOnBody),
    )
    if attachment:
        response.headers.set(
            "Content-Disposition", "attachment", **S.download_filename(result, query, ext)
        )
    if cache_control:
        response.headers["Cache-Control"] = "private,max-age=31557600"
    return response


def result_of(backend: Backend, result_id: Any) -> StoredResult | None:
    return backend.store.get_result(to_int(result_id))


def query_result(
    backend: Backend,
    request: Request,
    caller: Caller,
    query_id: str,
    ext: str | None = None,
    result_id: str | None = None,
) -> Response:
    query = get_query(backend, query_id)
    check_extension(ext)
    if result_id is not None:
        result = result_of(backend, result_id)
    else:
        latest = query.get("latest_query_data_id")
        result = backend.store.get_result(latest) if latest else None
    if result is None:
        raise Refusal(404, NO_CACHED)
    if caller.is_api and result.query_hash != query["query_hash"]:
        raise Refusal(404, NO_CACHED)
    return result_response(
        backend,
        result,
        ext=ext or "json",
        query=query,
        attachment=True,
        cache_control=result_id is not None,
    )


def result_get(
    backend: Backend, request: Request, caller: Caller, result_id: str, ext: str | None = None
) -> Response:
    require_user(caller)
    check_extension(ext)
    result = result_of(backend, result_id)
    if result is None:
        raise Refusal(404, NOT_FOUND)
    return result_response(backend, result, ext=ext or "json", attachment=True, cache_control=True)


def job_get(
    backend: Backend, request: Request, caller: Caller, job_id: str, query_id: str | None = None
) -> Response:
    job = backend.jobs.get(job_id)
    if job is None:
        raise LookupError("no such job")  # → 500, as upstream (rq NoSuchJobError)
    return json_response({"job": job.to_json()})


def job_cancel(backend: Backend, request: Request, caller: Caller, job_id: str) -> Response:
    require_user(caller)
    job = backend.jobs.get(job_id)
    if job is not None and job.cancelled.is_set():
        # rq refuses to cancel a cancelled job, and Redash lets that through as a 500
        raise RuntimeError("job already cancelled")
    if backend.jobs.cancel(job_id) is None:
        raise LookupError("no such job")
    return json_response(None)


def server_error(backend: Backend, request: Request, caller: Caller, **_: Any) -> Response:
    raise RuntimeError("not supported by the real server either")
