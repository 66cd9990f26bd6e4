"""Dashboards: listings, tags, create/read/edit/archive (by id, or slug on v8)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from werkzeug.wrappers import Request, Response

from .. import _serialize as S
from .._backend import Backend, Caller, require_editor, require_user
from .common import body_of, filter_and_order, json_response, paginate, tag_counts


def dashboard_json(
    backend: Backend, dashboard: dict[str, Any], caller: Caller, *, single: bool
) -> dict[str, Any]:
    users = backend.users_by_id()
    owner = users.get(dashboard["user_id"])
    out: dict[str, Any] = {
        "id": dashboard["id"],
        "slug": dashboard["slug"],
        "name": dashboard["name"],
        "user_id": dashboard["user_id"],
        "user": S.user_json(owner, short=True) if owner else None,
        "layout": dashboard.get("layout", []),
        "dashboard_filters_enabled": dashboard.get("dashboard_filters_enabled", False),
        "widgets": None,
        "options": dashboard.get("options", {}),
        "is_archived": dashboard["is_archived"],
        "is_draft": dashboard["is_draft"],
        "tags": dashboard.get("tags", []),
        "updated_at": dashboard["updated_at"],
        "created_at": dashboard["created_at"],
        "version": dashboard["version"],
        "is_favorite": False,
    }
    if single:
        out["widgets"] = [widget_json(backend, w, users) for w in dashboard["widgets"]]
    return out


def public_url(backend: Backend, token: str) -> str:
    """The anonymous link of a shared dashboard (docs/protocol.md#dashboards)."""
    return f"{backend.base_url}/public/dashboards/{token}?org_slug=default"


def widget_json(backend: Backend, widget: dict[str, Any], users: dict[int, Any]) -> dict[str, Any]:
    out = {
        k: widget[k]
        for k in ("id", "width", "options", "dashboard_id", "text", "updated_at", "created_at")
    }
    query = backend.store.get("queries", widget["query_id"]) if widget.get("query_id") else None
    if query is not None:
        vis = next(
            (v for v in query["visualizations"] if v["id"] == widget["visualization_id"]),
            None,
        )
        if vis is not None:
            vis_json = S.visualization_json(vis)
            vis_json["query"] = S.query_json(query, users, mode="embedded")
            out["visualization"] = vis_json
    return out


def dashboard_sort_keys() -> dict[str, Callable[[dict[str, Any]], Any]]:
    return {
        "name": lambda d: d["name"].lower(),
        "created_at": lambda d: d["created_at"],
        "starred_at": lambda d: d["created_at"],
    }


def list_dashboards(
    backend: Backend, request: Request, caller: Caller, predicate: Callable[[dict[str, Any]], bool]
) -> Response:
    require_user(caller)
    items = [d for d in backend.store.all("dashboards") if predicate(d)]
    items = filter_and_order(request, items, ("name",), dashboard_sort_keys())
    return paginate(request, items, lambda d: dashboard_json(backend, d, caller, single=False))


def dashboards_list(backend: Backend, request: Request, caller: Caller) -> Response:
    return list_dashboards(backend, request, caller, lambda d: not d["is_archived"])


def dashboards_my(backend: Backend, request: Request, caller: Caller) -> Response:
    user = require_user(caller)
    return list_dashboards(
        backend, request, caller, lambda d: not d["is_archived"] and d["user_id"] == user["id"]
    )


def dashboards_favorites(backend: Backend, request: Request, caller: Caller) -> Response:
    return list_dashboards(backend, request, caller, lambda d: False)


def dashboards_tags(backend: Backend, request: Request, caller: Caller) -> Response:
    require_user(caller)
    counts = tag_counts(backend.store.all("dashboards"))
    return json_response({"tags": [{"name": n, "count": c} for n, c in sorted(counts.items())]})


def dashboard_get(
    backend: Backend, request: Request, caller: Caller, dashboard_id: str
) -> Response:
    require_user(caller)
    dashboard = backend.find_dashboard(dashboard_id, by_slug=by_slug(backend, request))
    out = dashboard_json(backend, dashboard, caller, single=True)
    token = dashboard.get("public_api_key")
    if token:
        out["public_url"], out["api_key"] = public_url(backend, token), token
    user = caller.user or {}
    out["can_edit"] = bool(user.get("is_admin") or user.get("id") == dashboard["user_id"])
    return json_response(out)


def dashboard_share(
    backend: Backend, request: Request, caller: Caller, dashboard_id: str
) -> Response:
    dashboard = backend.existing_dashboard(dashboard_id)
    require_editor(caller, dashboard["user_id"])
    token = backend.share_dashboard(dashboard)
    return json_response({"public_url": public_url(backend, token), "api_key": token})


def dashboard_unshare(
    backend: Backend, request: Request, caller: Caller, dashboard_id: str
) -> Response:
    dashboard = backend.existing_dashboard(dashboard_id)
    require_editor(caller, dashboard["user_id"])
    backend.unshare_dashboard(dashboard)
    return json_response(None)


def dashboard_create(backend: Backend, request: Request, caller: Caller) -> Response:
    user = require_user(caller)
    body = body_of(request)
    if not isinstance(body, dict):
        body = {}
    dashboard = backend.create_dashboard(body["name"], user=user)
    return json_response(dashboard_json(backend, dashboard, caller, single=False))


def by_slug(backend: Backend, request: Request) -> bool:
    """Whether dashboards are looked up by slug: on v8, or when ``?legacy`` asks for it."""
    return backend.dashboard_slug_routes or "legacy" in request.args


def dashboard_edit(
    backend: Backend, request: Request, caller: Caller, dashboard_id: str
) -> Response:
    dashboard = backend.existing_dashboard(dashboard_id)
    require_editor(caller, dashboard["user_id"])
    body = body_of(request)
    if not isinstance(body, dict):
        body = {}
    backend.update_dashboard(dashboard, body)
    return json_response(dashboard_json(backend, dashboard, caller, single=True))


def dashboard_archive(
    backend: Backend, request: Request, caller: Caller, dashboard_id: str
) -> Response:
    if backend.dashboard_slug_routes:
        dashboard = backend.find_dashboard(dashboard_id, by_slug=True)
    else:
        dashboard = backend.existing_dashboard(dashboard_id)
    require_editor(caller, dashboard["user_id"])
    backend.archive_dashboard(dashboard)
    return json_response(dashboard_json(backend, dashboard, caller, single=True))
