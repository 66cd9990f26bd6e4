"""A pasted link as a :class:`WatchLink`: which route, which ids, the server, the key."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, unquote_plus, urlsplit, urlunsplit

from .. import _cache as _cache
from .. import _params as _params
from .. import _read as _read
from .._config import normalize_url
from ..errors import ConfigError, ParameterError

if TYPE_CHECKING:  # pragma: no cover
    pass


LinkKind = Literal["result", "latest", "query_result", "query", "dashboard"]

FORMS = (
    "https://<server>/api/query_results/<id>[.json|.csv|.tsv|.xlsx]?api_key=<key>",
    "https://<server>/api/queries/<id>/results[.json|.csv|.tsv|.xlsx]?api_key=<key>",
    "https://<server>/api/queries/<id>/results/<result id>.json?api_key=<key>",
    "https://<server>/queries/<id>[/source]?p_<name>=<value>...#<visualization>",
    "https://<server>/dashboard/<slug>?p_<name>=<value>&p_w<widget>_<name>=<value>...",
    "https://<server>/dashboards/<id>-<slug>?p_<name>=<value>...",
)
_FORMS_TEXT = "; ".join(FORMS) + " (<server> may end in an organisation: https://host/<org>)"
_DOWNLOAD = re.compile(r"^(\d+)(?:\.(json|csv|tsv|xlsx))?$")
_RESULTS = re.compile(r"^results(?:\.(json|csv|tsv|xlsx))?$")
_DASHBOARD_ID = re.compile(r"^(\d+)(?:-.*)?$")
_WIDGET_PARAM = re.compile(r"^w(\d+)_(.+)$")


@dataclass(frozen=True)
class WatchLink:
    """What a link names. ``server`` is its base address; ``api_key`` (hidden from the repr)
    is the key it carried, if any; ``display`` is the link without that key."""

    kind: LinkKind
    server: str
    display: str
    query_id: int | None = None
    result_id: int | None = None
    dashboard: int | str | None = None
    fmt: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    widget_params: dict[int, dict[str, Any]] = field(default_factory=dict)
    visualization: int | None = None
    api_key: str | None = field(default=None, repr=False)


# -- parsing ---------------------------------------------------------------------------------
def parse_link(text: str) -> WatchLink:
    """A link as a :class:`WatchLink`; ConfigError (listing the forms understood) if it is
    none of them. The link is never echoed with its key."""
    if not isinstance(text, str):
        raise ConfigError(
            f"The link must be a str such as 'https://watch.example.org/queries/12', not "
            f"{type(text).__name__}. Links understood: {_FORMS_TEXT}."
        )
    parts = urlsplit(text.strip())
    display = _without_key(parts)
    segments = [segment for segment in parts.path.split("/") if segment]
    found = None
    if parts.scheme.lower() in ("http", "https") and parts.hostname:
        found = next(
            (
                (index, match)
                for index in range(len(segments))
                if (match := _route(segments[index:]))
            ),
            None,
        )
    if found is None:
        raise ConfigError(
            f"{display!r} is not a Watch link this can read. Links understood: {_FORMS_TEXT}."
        )
    index, (kind, ids) = found
    base = "/".join(segments[:index])
    server = normalize_url(
        urlunsplit((parts.scheme.lower(), parts.netloc, f"/{base}" if base else "", "", "")),
        source="the link",
    )
    key, params, widget_params = _query_string(parts.query, dashboard=kind == "dashboard")
    if params and kind in ("result", "query_result"):
        raise ParameterError(
            f"{display!r} names a stored result, which has no parameters to choose; its "
            f"p_ values ({', '.join(sorted(params))}) cannot apply. Use the query's page "
            "link (/queries/<id>?p_<name>=<value>) to run it with parameters.",
            name=sorted(params)[0],
            allowed="no parameters on a stored result's link",
        )
    fragment = parts.fragment
    return WatchLink(
        kind=kind,
        server=server,
        display=display,
        params=params,
        widget_params=widget_params,
        visualization=int(fragment) if fragment.isdigit() else None,
        api_key=key,
        **ids,
    )


def _route(tail: Sequence[str]) -> tuple[LinkKind, dict[str, Any]] | None:
    """The link kind and ids when the path ``tail`` (after the base address) is a form."""
    head, size = tail[0], len(tail)
    if head == "api" and size == 3 and tail[1] == "query_results":
        download = _DOWNLOAD.match(tail[2])
        if download:
            return "result", {"result_id": int(download[1]), "fmt": download[2]}
    if head == "api" and size in (4, 5) and tail[1] == "queries" and tail[2].isdigit():
        query_id = int(tail[2])
        results = _RESULTS.match(tail[3])
        if size == 4 and results:
            return "latest", {"query_id": query_id, "fmt": results[1]}
        download = _DOWNLOAD.match(tail[4]) if size == 5 and tail[3] == "results" else None
        if download:
            return "query_result", {
                "query_id": query_id,
                "result_id": int(download[1]),
                "fmt": download[2],
            }
    if head == "queries" and size in (2, 3) and tail[1].isdigit():
        if size == 2 or tail[2] == "source":
            return "query", {"query_id": int(tail[1])}
    if head == "dashboard" and size == 2:
        return "dashboard", {"dashboard": unquote_plus(tail[1])}
    if head == "dashboards" and size == 2:
        by_id = _DASHBOARD_ID.match(tail[1])
        if by_id:
            return "dashboard", {"dashboard": int(by_id[1])}
    return None


def _query_string(
    query: str, *, dashboard: bool
) -> tuple[str | None, dict[str, Any], dict[int, dict[str, Any]]]:
    """The key, the ``p_`` values and (dashboards) the ``p_w<id>_`` values of a query string.

    Other names (the web UI's ``fullscreen``, ``refresh``, ``maxAge``) are ignored."""
    key: str | None = None
    params: dict[str, Any] = {}
    widgets: dict[int, dict[str, Any]] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name == "api_key":
            key = value.strip() or key
            continue
        if not name.startswith("p_") or len(name) == 2:
            continue
        name = name[2:]
        target = params
        widget = _WIDGET_PARAM.match(name) if dashboard else None
        if widget:
            target = widgets.setdefault(int(widget[1]), {})
            name = widget[2]
        base, dot, end = name.rpartition(".")
        if dot and end in ("start", "end"):
            bounds = target.get(base)
            target[base] = {**(bounds if isinstance(bounds, dict) else {}), end: value}
        else:
            target[name] = value
    return key, params, widgets


def _without_key(parts: Any) -> str:
    """The link as given, minus any ``api_key=`` in its query string."""
    kept = [piece for piece in parts.query.split("&") if piece and not _is_key(piece)]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "&".join(kept), parts.fragment))


def _is_key(piece: str) -> bool:
    return unquote_plus(piece.partition("=")[0]) == "api_key"
