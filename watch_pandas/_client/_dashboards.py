"""Dashboards on both server generations: v10+ routes take ids, v8/v9 routes take slugs.

A v10+ server finds a dashboard by id, or by slug with ``?legacy``; a v8/v9 server takes only
the slug (and ignores ``?legacy``), so an id is mapped to its slug through the dashboard list.
Which generation answers is learned from the first answer that proves it (or the server's
version) and kept in :class:`DashboardRoutes`, which threads sharing the client share too.
"""

from __future__ import annotations

import logging
import numbers
import threading
from collections.abc import Iterator, Sequence
from typing import Any, Literal
from urllib.parse import quote

from .._constants import MAX_PAGE_SIZE
from .._http import expect_dict
from ..errors import (
    AuthError,
    ConfigError,
    ForbiddenError,
    NotFoundError,
    ServerError,
    TransportError,
)
from ..models import Dashboard
from ._args import as_id, major_version
from ._meta import MetaAPI

log = logging.getLogger("watch_pandas.client")

RouteStyle = Literal["legacy", "slug"]


class DashboardRoutes:
    """What a client learned of the server's dashboard routes (lock-guarded: threads share it).

    ``style`` is ``"legacy"`` on v10+ (ids; ``?legacy`` for slugs), ``"slug"`` on v8/v9
    (slugs), ``None`` until an answer proves one; the first proof wins. The slugs seen are
    kept by id, since v8/v9 address a dashboard only by its slug.
    """

    def __init__(self) -> None:
        self._style: RouteStyle | None = None
        self._slugs: dict[int, str] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"DashboardRoutes(style={self.style!r})"

    @property
    def style(self) -> RouteStyle | None:
        with self._lock:
            return self._style

    def learn(self, style: RouteStyle) -> None:
        """The routes proved to be ``style`` (kept unless another answer proved it first)."""
        with self._lock:
            if self._style is None:
                self._style = style

    def slug_of(self, dashboard_id: int) -> str | None:
        with self._lock:
            return self._slugs.get(dashboard_id)

    def remember(self, dashboard: Dashboard) -> Dashboard:
        """Keep ``dashboard``'s slug for its id; returns ``dashboard``."""
        if dashboard.slug:
            with self._lock:
                self._slugs[dashboard.id] = dashboard.slug
        return dashboard


class DashboardsAPI(MetaAPI):
    """``/api/dashboards`` (it needs the server version from :class:`MetaAPI` to tell the
    generation when no answer proved it)."""

    def _init_state(self) -> None:
        super()._init_state()
        self._routes = DashboardRoutes()

    def list_dashboards(
        self,
        q: str | None = None,
        tags: Sequence[str] | str | None = None,
        *,
        page_size: int = MAX_PAGE_SIZE,
        limit: int | None = None,
    ) -> Iterator[Dashboard]:
        """All dashboards (without widgets), page by page; stops at the last page."""
        for item in self._paginate(
            "dashboards", q, tags, None, page_size, limit, "list dashboards"
        ):
            yield Dashboard.from_json(item)

    def get_dashboard(self, id_or_slug: int | str) -> Dashboard:
        """A dashboard with its widgets, by numeric id or by slug, on any server generation.

        A string of digits is an id, or else a slug (a dashboard named "2024").

        v10+ routes take the numeric id and find a slug with ``?legacy``; v8/v9 routes take
        only the slug (and ignore ``?legacy``), so there an id is mapped to its slug through
        :meth:`list_dashboards`. The generation is learned from the first answer that proves
        it (an id route returning that id, or a plain slug route working) and remembered.
        """
        if isinstance(id_or_slug, numbers.Integral) and not isinstance(id_or_slug, bool):
            return self._dashboard_by_id(as_id(id_or_slug, "dashboard id"))
        if isinstance(id_or_slug, str) and id_or_slug.strip().isdigit():
            # "12" from a config or a command line is an id; a dashboard named "2024" has the
            # slug "2024": the id is tried first, then the slug
            try:
                return self._dashboard_by_id(as_id(id_or_slug.strip(), "dashboard id"))
            except NotFoundError:
                log.debug("no dashboard with id %s; trying it as a slug", id_or_slug.strip())
        if not isinstance(id_or_slug, str) or not id_or_slug.strip():
            raise ConfigError(
                f"A dashboard is given by numeric id or slug (e.g. 'my-dashboard'), "
                f"not {id_or_slug!r}."
            )
        slug = id_or_slug.strip()
        quoted = quote(slug, safe="")
        what = f"dashboard {slug!r}"
        if self._routes.style != "slug":
            data = self._v10_dashboard_route(f"dashboards/{quoted}?legacy", what)
            if data is not None:
                # v8/v9 ignore ?legacy, so this success does not tell the generation
                return self._routes.remember(Dashboard.from_json(expect_dict(data, "a dashboard")))
        try:
            data = self._json("GET", f"dashboards/{quoted}", what=what, user_only=True)
        except (NotFoundError, ServerError) as exc:
            if isinstance(exc, TransportError):
                raise
            kind = "id or slug" if slug.isdigit() else "slug"
            raise NotFoundError(
                f"No dashboard with {kind} {slug!r} on {self.url} (neither "
                f"/api/dashboards/{quoted}?legacy nor /api/dashboards/{quoted} found it). "
                "Check the slug in the dashboard's address, or pass its numeric id.",
                status_code=exc.status_code,
            ) from None
        self._routes.learn("slug")
        return self._routes.remember(Dashboard.from_json(expect_dict(data, "a dashboard")))

    def _v10_dashboard_route(self, path: str, what: str) -> Any | None:
        """GET a v10+ dashboard route; ``None`` when it fails on a server that may be v8/v9
        (then the caller tries the slug route); errors once the server is known to be v10+."""
        try:
            return self._json("GET", path, what=what, user_only=True)
        except (NotFoundError, ServerError) as exc:
            if isinstance(exc, TransportError) or self._routes.style == "legacy":
                raise
            log.debug("GET /api/%s failed (%s); trying the v8/v9 slug route", path, exc)
            return None

    def _dashboard_by_id(self, did: int) -> Dashboard:
        """GET by id (v10+), or by the id's slug from the listing (v8/v9 routes take slugs)."""
        what = f"dashboard {did}"
        if self._routes.style != "slug":
            data = self._v10_dashboard_route(f"dashboards/{did}", what)
            if data is not None:
                found = Dashboard.from_json(expect_dict(data, "a dashboard"))
                if found.id == did:
                    self._routes.learn("legacy")
                    return found
                # v8/v9 read the id as a slug and found a dashboard named like the number
        slug = self._routes.slug_of(did) or next(
            (d.slug for d in self.list_dashboards() if d.id == did), None
        )
        if slug:
            quoted = quote(slug, safe="")
            data = self._json("GET", f"dashboards/{quoted}", what=what, user_only=True)
            found = Dashboard.from_json(expect_dict(data, "a dashboard"))
            if found.id == did:
                self._routes.learn("slug")
                return self._routes.remember(found)
        raise NotFoundError(
            f"No dashboard with id {did} on {self.url} (neither /api/dashboards/{did} nor the "
            "dashboard list found it; archived dashboards are not listed). Check the id in the "
            "dashboard's address, or pass its slug."
        )

    def _dashboard_routes_take_slugs(self, known: Dashboard) -> bool:
        """True on v8/v9 (dashboard routes take slugs); ``known`` is a dashboard that exists."""
        if self._routes.style is None:
            major = major_version(self._quiet_server_version())
            if major is not None:
                self._routes.learn("slug" if major < 10 else "legacy")
        if self._routes.style is None:
            try:
                data = self._json(
                    "GET", f"dashboards/{known.id}", what=f"dashboard {known.id}", user_only=True
                )
                by_id = Dashboard.from_json(expect_dict(data, "a dashboard"))
            except (NotFoundError, ServerError):
                by_id = None
            proven = by_id is not None and by_id.id == known.id
            self._routes.learn("legacy" if proven else "slug")
        return self._routes.style == "slug"

    def _quiet_server_version(self) -> str | None:
        try:
            return self.get_server_version()
        except (NotFoundError, ServerError, AuthError, ForbiddenError) as exc:
            log.debug("server version unavailable (%s)", exc)
            return None

    def create_dashboard(self, name: str) -> Dashboard:
        """Create a (draft) dashboard."""
        self._require_user_key("create dashboards")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError("A new dashboard needs a non-empty name.")
        data = self._json("POST", "dashboards", body={"name": name}, user_only=True)
        return Dashboard.from_json(expect_dict(data, "a dashboard"))

    def edit_dashboard(
        self, dashboard_id: int | str, *, version: int | None = None, **fields: Any
    ) -> Dashboard:
        """Change fields (``name``, ``tags``, ``is_draft``, ``layout``, …) of a dashboard by id."""
        did = as_id(dashboard_id, "dashboard_id")
        body = dict(fields)
        if version is not None:
            body["version"] = version
        data = self._json(
            "POST", f"dashboards/{did}", body=body, what=f"dashboard {did}", user_only=True
        )
        return Dashboard.from_json(expect_dict(data, "a dashboard"))

    def archive_dashboard(self, dashboard: int | str) -> None:
        """Archive a dashboard given by id or slug (v8/v9 servers are addressed by slug)."""
        if self._routes.style == "legacy" and isinstance(dashboard, int):
            key: int | str = as_id(dashboard, "dashboard")  # a string of digits may be a slug
        else:
            found = self.get_dashboard(dashboard)
            slugs = self._dashboard_routes_take_slugs(found)
            key = quote(found.slug, safe="") if slugs else found.id
        self._json("DELETE", f"dashboards/{key}", what=f"dashboard {dashboard}", user_only=True)
