"""Saved queries: listings, search, create/read/edit/archive, dropdown values."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from .. import _params
from .. import _serialize as S
from .._backend import FORBIDDEN, NOT_FOUND, Backend, Caller, Refusal, require_editor, require_user
from .common import (
    body_of,
    filter_and_order,
    get_query,
    json_response,
    paginate,
    tag_counts,
    to_int,
)


def query_json(
    backend: Backend,
    query: dict[str, Any],
    caller: Caller,
    mode: str,
    *,
    with_can_edit: bool = False,
) -> dict[str, Any]:
    result = None
    if mode == "list" and query.get("latest_query_data_id"):
        result = backend.store.get_result(query["latest_query_data_id"])
    user = caller.user or {}
    can_edit = None
    if with_can_edit:
        can_edit = bool(user.get("is_admin") or user.get("id") == query["user_id"])
    return S.query_json(
        query,
        backend.users_by_id(),
        mode=mode,
        result=result,
        api_user=caller.is_api,
        can_edit=can_edit,
    )


def query_sort_keys(backend: Backend) -> dict[str, Callable[[dict[str, Any]], Any]]:
    def result_attr(attr: str) -> Callable[[dict[str, Any]], Any]:
        def key(query: dict[str, Any]) -> Any:
            rid = query.get("latest_query_data_id")
            result = backend.store.get_result(rid) if rid else None
            value = getattr(result, attr) if result else None
            return (value is not None, value if value is not None else 0)

        return key

    users = backend.users_by_id()
    return {
        "name": lambda q: q["name"].lower(),
        "created_at": lambda q: q["created_at"],
        "schedule": lambda q: json.dumps(q.get("schedule")),
        "runtime": result_attr("runtime"),
        "executed_at": result_attr("retrieved_at"),
        "created_by": lambda q: users.get(q["user_id"], {}).get("name", ""),
        "starred_at": lambda q: q["created_at"],
    }


def list_queries(
    backend: Backend, request: Request, caller: Caller, predicate: Callable[[dict[str, Any]], bool]
) -> Response:
    require_user(caller)
    items = [q for q in backend.store.all("queries") if predicate(q)]
    items = filter_and_order(
        request, items, ("name", "description", "query"), query_sort_keys(backend)
    )
    return paginate(request, items, lambda q: query_json(backend, q, caller, "list"))


def queries_list(backend: Backend, request: Request, caller: Caller) -> Response:
    return list_queries(backend, request, caller, lambda q: not q["is_archived"])


def queries_my(backend: Backend, request: Request, caller: Caller) -> Response:
    user = require_user(caller)
    return list_queries(
        backend, request, caller, lambda q: not q["is_archived"] and q["user_id"] == user["id"]
    )


def queries_favorites(backend: Backend, request: Request, caller: Caller) -> Response:
    return list_queries(backend, request, caller, lambda q: False)


def queries_archive(backend: Backend, request: Request, caller: Caller) -> Response:
    return list_queries(backend, request, caller, lambda q: q["is_archived"] and not q["is_draft"])


def queries_recent(backend: Backend, request: Request, caller: Caller) -> Response:
    user = require_user(caller)
    items = [
        q
        for q in backend.store.all("queries")
        if not q["is_archived"] and q["user_id"] == user["id"]
    ]
    items.sort(key=lambda q: (q["updated_at"], q["id"]), reverse=True)
    return json_response([query_json(backend, q, caller, "recent") for q in items[:10]])


def queries_tags(backend: Backend, request: Request, caller: Caller) -> Response:
    require_user(caller)
    counts = tag_counts(backend.store.all("queries"))
    tags = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return json_response({"tags": [{"name": n, "count": c} for n, c in tags]})


def queries_search(backend: Backend, request: Request, caller: Caller) -> Response:
    require_user(caller)
    term = request.args.get("q", "")
    if not term:
        return json_response([])
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "api_key"]
    args += [("org_slug", "default"), ("drafts", "false")]
    return json_response({}, 301, {"Location": "/api/queries?" + urlencode(args)})


def query_create(backend: Backend, request: Request, caller: Caller) -> Response:
    user = require_user(caller)
    if user.get("view_only"):
        raise Refusal(403, "You don't have permission to create queries.")
    body = body_of(request)
    if not isinstance(body, dict):
        raise ValueError("a JSON object is required")
    ds_id = body["data_source_id"]  # KeyError → 500, as upstream
    sql = body["query"]
    try:
        backend.data_source(int(ds_id))
    except KeyError:
        raise Refusal(404, NOT_FOUND) from None
    query = backend.create_query(
        sql,
        int(ds_id),
        user=user,
        name=body.get("name") or "New Query",
        description=body.get("description"),
        options=body.get("options") or {},
        tags=body.get("tags") or [],
        schedule=body.get("schedule"),
    )
    return json_response(query_json(backend, query, caller, "single"))


def query_get(backend: Backend, request: Request, caller: Caller, query_id: str) -> Response:
    query = get_query(backend, query_id)
    return json_response(query_json(backend, query, caller, "single", with_can_edit=True))


def query_edit(backend: Backend, request: Request, caller: Caller, query_id: str) -> Response:
    query = get_query(backend, query_id)
    user = require_editor(caller, query["user_id"])
    body = body_of(request)
    if not isinstance(body, dict):
        raise Refusal(400, "Failed to decode JSON object")
    query = backend.update_query(query, body, user)
    return json_response(query_json(backend, query, caller, "single"))


def query_fork(backend: Backend, request: Request, caller: Caller, query_id: str) -> Response:
    query = get_query(backend, query_id)
    user = require_user(caller)
    if user.get("view_only"):
        raise Refusal(403, FORBIDDEN)
    return json_response(query_json(backend, backend.fork_query(query, user), caller, "single"))


def query_archive(backend: Backend, request: Request, caller: Caller, query_id: str) -> Response:
    query = get_query(backend, query_id)
    require_editor(caller, query["user_id"])
    backend.archive_query(query)
    return json_response(None)


def query_dropdown(backend: Backend, request: Request, caller: Caller, query_id: str) -> Response:
    query = get_query(backend, query_id)
    return json_response(dropdown_pairs(backend, query["id"]))


def query_dropdowns(
    backend: Backend, request: Request, caller: Caller, query_id: str, dropdown_id: str
) -> Response:
    query = get_query(backend, query_id)
    wanted = to_int(dropdown_id)
    definitions = (query.get("options") or {}).get("parameters") or []
    if not any(d.get("type") == "query" and d.get("queryId") == wanted for d in definitions):
        raise Refusal(403, "You don't have permission to view this resource.")
    return json_response(dropdown_pairs(backend, wanted))


def dropdown_pairs(backend: Backend, query_id: int) -> list[dict[str, Any]]:
    try:
        return backend.dropdown_options(query_id)
    except _params.DetachedDropdown as exc:
        raise Refusal(400, exc.message) from None
