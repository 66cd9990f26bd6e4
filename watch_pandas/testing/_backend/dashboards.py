"""Dashboards: widgets (one per query visualization), edits, archive, lookup by id or slug."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
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
            widgets.append(
                {
                    "id": self.store.next_id("widgets"),
                    "width": 1,
                    "options": {
                        "position": {
                            "col": (index % 2) * 3,
                            "row": (index // 2) * 8,
                            "sizeX": 3,
                            "sizeY": 8,
                        },
                        # What the web UI's "add widget" saves by default: each
                        # parameter becomes (or joins) a dashboard-level parameter.
                        "parameterMappings": {
                            p["name"]: {
                                "name": p["name"],
                                "type": "dashboard-level",
                                "mapTo": p["name"],
                                "value": None,
                                "title": "",
                            }
                            for p in (query.get("options") or {}).get("parameters") or []
                        },
                    },
                    "dashboard_id": dashboard_id,
                    "text": "",
                    "created_at": now,
                    "updated_at": now,
                    "visualization_id": query["visualizations"][0]["id"],
                    "query_id": query["id"],
                }
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
