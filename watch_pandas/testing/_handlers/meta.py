"""Meta routes: config, session, org settings, data sources."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from .. import _serialize as S
from .._backend import FORBIDDEN, NOT_FOUND, Backend, Caller, Refusal, require_user
from .common import json_response, to_int

VERSION = "26.08.0-dev"

V8_VERSION = "8.0.0"


def client_config(backend: Backend, *, with_version: bool) -> dict[str, Any]:
    date_format, time_format = backend.date_formats()
    config: dict[str, Any] = {}
    if with_version:
        config.update(
            {
                "newVersionAvailable": False,
                "version": V8_VERSION if backend.dashboard_slug_routes else VERSION,
                "showBeaconConsentMessage": False,
            }
        )
    config.update(
        {
            "allowScriptsInUserInput": False,
            "showPermissionsControl": False,
            "hidePlotlyModeBar": False,
            "disablePublicUrls": False,
            "multiByteSearchEnabled": False,
            "allowCustomJSVisualizations": True,
            "autoPublishNamedQueries": True,
            "extendedAlertOptions": False,
            "mailSettingsMissing": True,
            "dashboardRefreshIntervals": [60, 300, 600, 1800, 3600, 43200, 86400],
            "queryRefreshIntervals": [
                60,
                300,
                600,
                900,
                1800,
                3600,
                7200,
                10800,
                14400,
                18000,
                21600,
                25200,
                28800,
                32400,
                36000,
                39600,
                43200,
                86400,
                604800,
                1209600,
                2592000,
            ],
            "googleLoginEnabled": False,
            "ldapLoginEnabled": False,
            "pageSize": 20,
            "pageSizeOptions": [5, 10, 20, 50, 100],
            "tableCellMaxJSONSize": 50000,
            "basePath": backend.base_url + "/",
            "dateFormat": date_format,
            "dateFormatList": ["MM/DD/YY", "DD/MM/YY", "YYYY-MM-DD"],
            "timeFormatList": ["HH:mm:ss", "HH:mm", "HH:mm:ss.SSS"],
            "dateTimeFormat": f"{date_format} {time_format}",
            "integerFormat": "0,0",
            "floatFormat": "0,0.00",
            "thousandsSeparator": ",",
            "decimalSeparator": ".",
            "nullValue": "null",
        }
    )
    return config


def config(backend: Backend, request: Request, caller: Caller) -> Response:
    return json_response(
        {"org_slug": "default", "client_config": client_config(backend, with_version=False)}
    )


def session(backend: Backend, request: Request, caller: Caller) -> Response:
    user = require_user(caller)
    permissions = ["view_query", "list_dashboards", "list_data_sources"]
    if not user.get("view_only"):
        permissions += [
            "create_dashboard",
            "create_query",
            "edit_dashboard",
            "edit_query",
            "view_source",
            "execute_query",
            "schedule_query",
            "list_alerts",
        ]
    if user.get("is_admin"):
        permissions = ["admin", "super_admin", *permissions, "list_users"]
    body = {
        "user": {
            "profile_image_url": S.user_json(user, short=True)["profile_image_url"],
            "id": user["id"],
            "name": user["name"],
            "email": user["email"],
            "groups": S.user_json(user)["groups"],
            "permissions": permissions,
        },
        "messages": [],
        "org_slug": "default",
        "client_config": client_config(backend, with_version=True),
    }
    return json_response(body)


def org_settings(backend: Backend, request: Request, caller: Caller) -> Response:
    user = require_user(caller)
    if not user.get("is_admin"):
        raise Refusal(403, "You don't have permission to view this resource.")
    date_format, time_format = backend.date_formats()
    return json_response({"settings": {"date_format": date_format, "time_format": time_format}})


def data_sources(backend: Backend, request: Request, caller: Caller) -> Response:
    require_user(caller)
    sources = sorted(backend.store.all("data_sources"), key=lambda s: s["name"].lower())
    return json_response([S.data_source_json(s) for s in sources])


def require_admin(caller: Caller) -> None:
    if not require_user(caller).get("is_admin"):
        raise Refusal(403, FORBIDDEN)


def data_source(backend: Backend, request: Request, caller: Caller, ds_id: str) -> Response:
    require_admin(caller)
    source = backend.store.get("data_sources", to_int(ds_id))
    if source is None:
        raise Refusal(404, NOT_FOUND)
    return json_response(S.data_source_json(source, full=True))


def data_source_schema(backend: Backend, request: Request, caller: Caller, ds_id: str) -> Response:
    """Cached → ``{"schema": [...]}``; any ``refresh`` parameter or no cache → a job."""
    require_user(caller)
    source_id = to_int(ds_id)
    if backend.store.get("data_sources", source_id) is None:
        raise Refusal(404, NOT_FOUND)
    if "refresh" not in request.args:
        cached = backend.cached_schema(source_id)
        if cached is not None:
            return json_response({"schema": cached})
    return json_response({"job": backend.refresh_schema(source_id).to_json()})


def data_source_types(backend: Backend, request: Request, caller: Caller) -> Response:
    require_admin(caller)
    return json_response(S.SOURCE_TYPES)
