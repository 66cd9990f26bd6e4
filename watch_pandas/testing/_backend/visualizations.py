"""Visualizations: saved inside their query's document, created, edited and deleted on their
own (docs/protocol.md#visualizations)."""

from __future__ import annotations

import copy
from typing import Any

from .._store import iso_z, utcnow
from .errors import NOT_FOUND, Refusal
from .queries import Queries

# What an edit may change; ``id`` and ``query_id`` are ignored, as the real server does.
EDITABLE = ("type", "name", "description", "options")


class Visualizations(Queries):
    """A query's ``visualizations`` list, in storage order: an edited one moves to the end
    (as a database's updated row does), so the list is not ordered by id."""

    def add_visualization(
        self,
        query: dict[str, Any],
        type_: str,
        name: str,
        options: dict[str, Any] | None = None,
        description: str = "",
    ) -> dict[str, Any]:
        now = iso_z(utcnow())
        with self._lock:
            query = self.store.get("queries", query["id"]) or query
            vis = {
                "id": self.store.next_id("visualizations"),
                "type": type_,
                "name": name,
                "description": description,
                "options": copy.deepcopy(options or {}),
                "created_at": now,
                "updated_at": now,
            }
            query.setdefault("visualizations", []).append(vis)
            self.store.put("queries", query)
            return vis

    def find_visualization(self, vis_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
        """(query, visualization) for ``vis_id``; a 404 refusal when no query holds it."""
        for query in self.store.all("queries"):
            for vis in query.get("visualizations", []):
                if vis["id"] == vis_id:
                    return query, vis
        raise Refusal(404, NOT_FOUND)

    def edit_visualization(self, vis_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            query, vis = self.find_visualization(vis_id)
            for key in EDITABLE:
                if key in changes:
                    vis[key] = copy.deepcopy(changes[key])
            vis["updated_at"] = iso_z(utcnow())
            query["visualizations"].remove(vis)
            query["visualizations"].append(vis)
            self.store.put("queries", query)
            return vis

    def delete_visualization(self, vis_id: int) -> None:
        """Deleted with the dashboard widgets that show it."""
        with self._lock:
            query, vis = self.find_visualization(vis_id)
            query["visualizations"].remove(vis)
            self.store.put("queries", query)
            for dashboard in self.store.all("dashboards"):
                kept = [w for w in dashboard["widgets"] if w.get("visualization_id") != vis_id]
                if len(kept) != len(dashboard["widgets"]):
                    dashboard["widgets"] = kept
                    self.store.put("dashboards", dashboard)
