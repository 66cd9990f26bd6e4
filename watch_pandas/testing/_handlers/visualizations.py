"""Visualizations: create, edit, delete (docs/protocol.md#visualizations)."""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from .. import _serialize as S
from .._backend import Backend, Caller, Refusal, require_editor, require_user
from .common import body_of, get_query, json_response, to_int


def _json_object(request: Request) -> dict:
    body = body_of(request)
    if not isinstance(body, dict):
        raise Refusal(400, "Failed to decode JSON object")
    return body


def visualization_create(backend: Backend, request: Request, caller: Caller) -> Response:
    require_user(caller)
    body = _json_object(request)
    query = get_query(backend, body["query_id"])  # no query_id: KeyError → 500, as upstream
    require_editor(caller, query["user_id"])
    vis = backend.add_visualization(
        query,
        body["type"],
        body.get("name") or "",
        body.get("options") or {},
        body.get("description") or "",
    )
    return json_response(S.visualization_json(vis))


def visualization_edit(
    backend: Backend, request: Request, caller: Caller, visualization_id: str
) -> Response:
    require_user(caller)
    query, _ = backend.find_visualization(to_int(visualization_id))
    require_editor(caller, query["user_id"])
    vis = backend.edit_visualization(to_int(visualization_id), _json_object(request))
    return json_response(S.visualization_json(vis))


def visualization_delete(
    backend: Backend, request: Request, caller: Caller, visualization_id: str
) -> Response:
    require_user(caller)
    query, _ = backend.find_visualization(to_int(visualization_id))
    require_editor(caller, query["user_id"])
    backend.delete_visualization(to_int(visualization_id))
    return json_response(None)
