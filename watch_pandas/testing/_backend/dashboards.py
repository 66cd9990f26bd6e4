"""Dashboards: widgets (visualization and text widgets), edits, archive, lookup by id or slug."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from .._store import iso_z, utcnow
from .errors import CONFLICT, NOT_FOUND, Refusal
from .users import Users, slugify


class Dashboards(Users):
    """Dashboards and their widgets."""

    def create_dashboard(
        self,
        name: str,
        *,
        user: dict[str, Any] | None = None,
        query_ids: Iterable[int] = (),
        is_draft: bool = True,
        tags: list[str] | None = None,
    ) -> dict[str, Any]:
        user = user or self.admin
        now = iso_z(utcnow())
        dashboard_id = self.store.next_id("dashboards")
        widgets = []
        for index, query_id in enumerate(query_ids):
            query = self.store.get("queries", int(query_id))
            if query is None:
                raise KeyError(f"no query with id {query_id}")
            position = {"col": (index % 2) * 3, "row": (index // 2) * 8, "sizeX": 3, "sizeY": 8}
            widgets.append(
                self._widget_doc(
                    dashboard_id,
                    query["visualizations"][0]["id"],
                    query,
                    options=widget_options(position, default_mappings(query)),
                )
            )
        doc = {
            "id": dashboard_id,
            "slug": slugify(name),
            "name": name,
            "user_id": user["id"],
            "layout": [],
            "dashboard_filters_enabled": False,
            "widgets": widgets,
            "options": {},
            "is_archived": False,
            "is_draft": is_draft,
            "tags": list(tags or []),
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
        return self.store.put("dashboards", doc)

    def find_dashboard(self, key: str, *, by_slug: bool) -> dict[str, Any]:
        """The dashboard with slug (``by_slug``) or id ``key``; 404 when there is none."""
        if by_slug:
            found = [d for d in self.store.all("dashboards") if d["slug"] == key]
            dashboard = found[0] if found else None
        else:
            dashboard = self.store.get("dashboards", int(key))  # ValueError → 500, as upstream
        if dashboard is None:
            raise Refusal(404, NOT_FOUND)
        return dashboard

    def existing_dashboard(self, dashboard_id: str) -> dict[str, Any]:
        """The dashboard with id ``dashboard_id`` (none is a 500, as upstream)."""
        dashboard = self.store.get("dashboards", int(dashboard_id))
        if dashboard is None:
            raise LookupError("no such dashboard")  # → 500, as upstream
        return dashboard

    def update_dashboard(self, dashboard: dict[str, Any], changes: dict[str, Any]) -> None:
        if "version" in changes and changes["version"] != dashboard["version"]:
            raise Refusal(409, CONFLICT)
        for key in (
            "name",
            "layout",
            "tags",
            "is_draft",
            "is_archived",
            "dashboard_filters_enabled",
            "options",
        ):
            if key in changes:
                dashboard[key] = changes[key]
        if "name" in changes:
            dashboard["slug"] = slugify(changes["name"])
        dashboard["version"] += 1
        dashboard["updated_at"] = iso_z(utcnow())
        self.store.put("dashboards", dashboard)

    def share_dashboard(self, dashboard: dict[str, Any]) -> str:
        """Give the dashboard a public API key (a new one each time, as Redash does)."""
        dashboard["public_api_key"] = secrets.token_urlsafe(30)
        self.store.put("dashboards", dashboard)
        return str(dashboard["public_api_key"])

    def unshare_dashboard(self, dashboard: dict[str, Any]) -> None:
        """Deactivate the dashboard's public API key, if it has one."""
        dashboard.pop("public_api_key", None)
        self.store.put("dashboards", dashboard)

    def archive_dashboard(self, dashboard: dict[str, Any]) -> None:
        dashboard["is_archived"] = True
        dashboard["updated_at"] = iso_z(utcnow())
        self.store.put("dashboards", dashboard)

    # -- widgets (docs/protocol.md#dashboards) -------------------------------------------------
    def _widget_doc(
        self,
        dashboard_id: int,
        visualization_id: int | None,
        query: Mapping[str, Any] | None,
        *,
        options: Any = None,
        text: str = "",
        width: Any = 1,
    ) -> dict[str, Any]:
        now = iso_z(utcnow())
        return {
            "id": self.store.next_id("widgets"),
            "width": width,
            "options": options if options is not None else {},
            "dashboard_id": dashboard_id,
            "text": text,
            "created_at": now,
            "updated_at": now,
            "visualization_id": visualization_id,
            "query_id": query["id"] if query is not None else None,
        }

    def visualization_owner(self, visualization_id: int) -> dict[str, Any]:
        """The query holding visualization ``visualization_id`` (none: a 500, as upstream)."""
        for query in self.store.all("queries"):
            if any(v["id"] == visualization_id for v in query.get("visualizations") or []):
                return query
        raise LookupError("no such visualization")  # → 500, as upstream

    def add_widget(
        self,
        dashboard: dict[str, Any],
        visualization_id: int | None,
        *,
        options: Any = None,
        text: str = "",
        width: Any = 1,
    ) -> dict[str, Any]:
        """Append a widget: a visualization's, or a text widget (``visualization_id`` None).

        Stored as given (no mappings added): the dashboard's own version is unchanged.
        """
        with self._lock:
            query = self.visualization_owner(visualization_id) if visualization_id else None
            widget = self._widget_doc(
                dashboard["id"],
                visualization_id or None,
                query,
                options=options,
                text=text,
                width=width,
            )
            dashboard = self.existing_dashboard(str(dashboard["id"]))
            dashboard["widgets"].append(widget)
            self.store.put("dashboards", dashboard)
            return widget

    def add_layout_widget(
        self,
        dashboard_id: int,
        query_id: int | None,
        *,
        text: str = "",
        position: Mapping[str, Any] | None = None,
        parameter_mappings: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A widget as the web UI saves it: the query's first visualization (its parameters
        mapped to dashboard parameters unless ``parameter_mappings`` says otherwise), or a
        text widget; the position completed with the UI's size limits."""
        dashboard = self.existing_dashboard(str(dashboard_id))
        if query_id is None:
            return self.add_widget(dashboard, None, options=widget_options(position), text=text)
        query = self.store.get("queries", query_id)
        if query is None:
            raise KeyError(f"no query with id {query_id}")
        mappings = {**default_mappings(query), **(parameter_mappings or {})}
        options = widget_options(position, mappings)
        return self.add_widget(dashboard, query["visualizations"][0]["id"], options=options)

    def find_widget(self, widget_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """(dashboard, widget) of widget ``widget_id`` (none is a 500, as upstream)."""
        wanted = int(widget_id)  # ValueError → 500, as upstream
        for dashboard in self.store.all("dashboards"):
            for widget in dashboard["widgets"]:
                if widget["id"] == wanted:
                    return dashboard, widget
        raise LookupError("no such widget")  # → 500, as upstream

    def edit_widget(self, widget_id: str, text: Any, options: Any) -> dict[str, Any]:
        with self._lock:
            dashboard, widget = self.find_widget(widget_id)
            widget.update(text=text, options=options, updated_at=iso_z(utcnow()))
            self.store.put("dashboards", dashboard)
            return widget

    def delete_widget(self, widget_id: str) -> None:
        with self._lock:
            dashboard, widget = self.find_widget(widget_id)
            dashboard["widgets"] = [w for w in dashboard["widgets"] if w["id"] != widget["id"]]
            self.store.put("dashboards", dashboard)


def default_mappings(query: Mapping[str, Any]) -> dict[str, Any]:
    """Every parameter of ``query`` mapped to the dashboard parameter of its name."""
    return {
        p["name"]: {
            "name": p["name"],
            "type": "dashboard-level",
            "mapTo": p["name"],
            "value": None,
            "title": "",
        }
        for p in (query.get("options") or {}).get("parameters") or []
    }


def widget_options(
    position: Mapping[str, Any] | None, mappings: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A widget's ``options`` as the dashboard page saves them: the position with the web UI's
    resize limits (a 6-column grid), and the parameter mappings of a visualization widget."""
    given = dict(position or {})
    options: dict[str, Any] = {
        "isHidden": False,
        "position": {
            "autoHeight": False,
            "sizeX": 3,
            "sizeY": 8,
            "minSizeX": 1,
            "maxSizeX": 6,
            "minSizeY": 1,
            "maxSizeY": 1000,
            "col": 0,
            "row": 0,
            **given,
        },
    }
    if mappings is not None:
        options["parameterMappings"] = dict(mappings)
    return options
