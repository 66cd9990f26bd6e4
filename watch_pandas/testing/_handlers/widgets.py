"""Widgets: create (a visualization's or a text widget), edit text and options, delete."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from .._backend import Backend, Caller, require_editor
from .common import body_of, json_response
from .dashboards import widget_json


def _body(request: Request) -> dict[str, Any]:
    body = body_of(request)
    if not isinstance(body, dict):
        raise TypeError("a widget body is a JSON object")  # → 500, as upstream
    return body


def widget_create(backend: Backend, request: Request, caller: Caller) -> Response:
    """``POST /api/widgets``: the body's ``dashboard_id`` and ``visualization_id`` (null for
    a text widget) are required; a missing one, or an unknown id, is a 500 as upstream."""
    body = _body(request)
    dashboard = backend.existing_dashboard(str(body["dashboard_id"]))
    require_editor(caller, dashboard["user_id"])
    widget = backend.add_widget(
        dashboard,
        body["visualization_id"],
        options=body.get("options"),
        text=body.get("text") or "",
        width=body.get("width", 1),
    )
    return json_response(widget_json(backend, widget, backend.users_by_id()))


def widget_edit(backend: Backend, request: Request, caller: Caller, widget_id: str) -> Response:
    """``POST /api/widgets/<id>``: replaces ``text`` and ``options`` (both required)."""
    dashboard, _ = backend.find_widget(widget_id)
    require_editor(caller, dashboard["user_id"])
    body = _body(request)
    widget = backend.edit_widget(widget_id, body["text"], body["options"])
    return json_response(widget_json(backend, widget, backend.users_by_id()))


def widget_delete(backend: Backend, request: Request, caller: Caller, widget_id: str) -> Response:
    """``DELETE /api/widgets/<id>``: 200 with a JSON ``null`` body."""
    dashboard, _ = backend.find_widget(widget_id)
    require_editor(caller, dashboard["user_id"])
    backend.delete_widget(widget_id)
    return json_response(None)
