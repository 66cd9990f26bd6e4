"""The route table: which handler answers which method and URL rule, and who may call it."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from werkzeug.routing import BaseConverter, Map, Rule
from werkzeug.wrappers import Response

from ._handlers import dashboards, meta, queries, results, visualizations, widgets

# handler(backend, request, caller, **url_values)
Handler = Callable[..., Response]


@dataclass(frozen=True)
class Route:
    """``handler`` answers ``method`` on ``rule``; ``query_key_ok``: a query's own API key may
    call it (on that query); ``login``: an API key is needed at all."""

    method: str
    rule: str
    handler: Handler
    query_key_ok: bool = False
    login: bool = True

    @property
    def template(self) -> str:
        """The rule with placeholders only, as request counters name it."""
        return route_template(self.rule)


ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/config", meta.config, login=False),
    Route("GET", "/api/session", meta.session),
    Route("GET", "/api/settings/organization", meta.org_settings),
    Route("GET", "/api/data_sources", meta.data_sources),
    Route("GET", "/api/data_sources/types", meta.data_source_types),
    Route("GET", "/api/data_sources/<id:ds_id>", meta.data_source),
    Route("GET", "/api/data_sources/<id:ds_id>/schema", meta.data_source_schema),
    Route("GET", "/api/queries", queries.queries_list),
    Route("POST", "/api/queries", queries.query_create),
    Route("GET", "/api/queries/search", queries.queries_search),
    Route("GET", "/api/queries/my", queries.queries_my),
    Route("GET", "/api/queries/favorites", queries.queries_favorites),
    Route("GET", "/api/queries/archive", queries.queries_archive),
    Route("GET", "/api/queries/recent", queries.queries_recent),
    Route("GET", "/api/queries/tags", queries.queries_tags),
    Route("GET", "/api/queries/<id:query_id>", queries.query_get, query_key_ok=True),
    Route("POST", "/api/queries/<id:query_id>", queries.query_edit),
    Route("DELETE", "/api/queries/<id:query_id>", queries.query_archive),
    Route("POST", "/api/queries/<id:query_id>/fork", queries.query_fork),
    Route("POST", "/api/queries/<id:query_id>/results", results.query_execute, query_key_ok=True),
    Route("GET", "/api/queries/<id:query_id>/results", results.query_result, query_key_ok=True),
    Route(
        "GET", "/api/queries/<id:query_id>/results.<ext>", results.query_result, query_key_ok=True
    ),
    Route(
        "GET",
        "/api/queries/<id:query_id>/results/<id:result_id>.<ext>",
        results.query_result,
        query_key_ok=True,
    ),
    Route("GET", "/api/queries/<id:query_id>/jobs/<job_id>", results.job_get, query_key_ok=True),
    Route(
        "DELETE",
        "/api/queries/<id:query_id>/jobs/<job_id>",
        results.server_error,
        query_key_ok=True,
    ),
    Route("POST", "/api/queries/<id:query_id>/refresh", results.query_refresh, query_key_ok=True),
    Route("GET", "/api/queries/<id:query_id>/dropdown", queries.query_dropdown, query_key_ok=True),
    Route(
        "GET",
        "/api/queries/<id:query_id>/dropdowns/<id:dropdown_id>",
        queries.query_dropdowns,
        query_key_ok=True,
    ),
    Route("POST", "/api/query_results", results.adhoc_execute),
    Route("GET", "/api/query_results/<id:result_id>", results.result_get),
    Route("GET", "/api/query_results/<id:result_id>.<ext>", results.result_get),
    Route("GET", "/api/jobs/<job_id>", results.job_get),
    Route("DELETE", "/api/jobs/<job_id>", results.job_cancel),
    Route("POST", "/api/visualizations", visualizations.visualization_create),
    Route("POST", "/api/visualizations/<id:visualization_id>", visualizations.visualization_edit),
    Route(
        "DELETE", "/api/visualizations/<id:visualization_id>", visualizations.visualization_delete
    ),
    Route("GET", "/api/dashboards", dashboards.dashboards_list),
    Route("POST", "/api/dashboards", dashboards.dashboard_create),
    Route("GET", "/api/dashboards/my", dashboards.dashboards_my),
    Route("GET", "/api/dashboards/favorites", dashboards.dashboards_favorites),
    Route("GET", "/api/dashboards/tags", dashboards.dashboards_tags),
    Route("GET", "/api/dashboards/<dashboard_id>", dashboards.dashboard_get),
    Route("POST", "/api/dashboards/<dashboard_id>", dashboards.dashboard_edit),
    Route("DELETE", "/api/dashboards/<dashboard_id>", dashboards.dashboard_archive),
    Route("POST", "/api/dashboards/<dashboard_id>/share", dashboards.dashboard_share),
    Route("DELETE", "/api/dashboards/<dashboard_id>/share", dashboards.dashboard_unshare),
    Route("POST", "/api/widgets", widgets.widget_create),
    Route("POST", "/api/widgets/<widget_id>", widgets.widget_edit),
    Route("DELETE", "/api/widgets/<widget_id>", widgets.widget_delete),
)


class _IdConverter(BaseConverter):
    """Any path segment without ``/`` or ``.`` (non-numeric ids then fail with 500)."""

    regex = r"[^/.]+"


def route_template(rule: str) -> str:
    """``/api/queries/<id:query_id>/results.<ext>`` → ``/api/queries/<id>/results.<ext>``."""
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: "<ext>" if m[1] == "ext" else "<id>", rule)


def url_map(routes: tuple[Route, ...] = ROUTES) -> Map:
    """A werkzeug ``Map`` whose rules' endpoints are the ``Route`` objects."""
    return Map(
        [Rule(r.rule, methods=[r.method], endpoint=r) for r in routes],
        converters={"id": _IdConverter},
    )
