"""``read_watch_url``: a pasted Watch link read through the usual pipeline (docs/links.md).

A link is first parsed into a :class:`WatchLink` (which route, which ids, the web UI's
parameter values, the server's base address, the key), then read as what it names: a stored
result by id, a query's latest result, a query page with its parameters (all through
:mod:`watch_pandas._read`), or a dashboard page (:func:`watch_pandas.read_watch_dashboard`).

Decisions:

* **The server** is the link's own (scheme, host, port and a multi-org prefix), unless ``url=``
  names another one.
* **The key**: ``api_key=``, else the link's ``?api_key=``, else the configured key (arguments,
  environment, profile). The link's key is only sent to the link's own server, and a configured
  key only to its configured server: a link for another server is refused, naming both, rather
  than sending a key somewhere it does not belong. ``client=`` must talk to the link's server;
  its own key is used. The key always travels in the ``Authorization`` header: it is taken out
  of the link and never appears in a URL, ``attrs``, a message, a repr, progress or the cache.
* **Downloads** (``.csv``, ``.tsv``, ``.xlsx``) are read through the JSON route of the same
  result, which keeps the column types; the CSV drops them (docs/protocol.md#csv-and-tsv-downloads).
* A query's **latest result** (``/api/queries/<id>/results``) is read as a query read with
  ``max_age=None``: the server's cached result of any age, as the link gives it.
* **Parameters** (``p_<name>``) follow the web UI's encoding: a range as ``start--end`` or (older
  links) ``p_<name>.start``/``p_<name>.end``, a multi-value list as a JSON array, dynamic
  values (``d_last_7_days``) as they are. A dashboard's widget-level values are
  ``p_w<widget id>_<name>``. ``params=`` given with a link override the link's values.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, unquote_plus, urlsplit, urlunsplit

from . import _cache as _cache
from . import _params as _params
from . import _read as _read
from ._config import normalize_url, resolve_config
from ._deadline import deadline
from ._progress import Progress, progress_listeners
from .errors import AuthError, ConfigError, ForbiddenError, ParameterError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ._client import WatchClient
    from ._dashboards import DashboardFrames
    from ._decode import DtypeBackend
    from .models import Dashboard

__all__ = ["WatchLink", "parse_link", "link_values", "read_watch_url", "FORMS"]

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


# -- the web UI's parameter encoding -----------------------------------------------------------
def link_values(
    definitions: Sequence[_params.ParameterDefinition], raw: Mapping[str, Any]
) -> dict[str, Any]:
    """A link's ``p_`` values as ``params`` for the query's ``definitions`` (module docstring).

    Names the query does not define are passed on as they are (the read refuses them, listing
    the names it has)."""
    by_name = {definition.name: definition for definition in definitions}
    values: dict[str, Any] = {}
    for name, value in raw.items():
        definition = by_name.get(name)
        if definition is None:
            values[name] = value
        elif definition.type in _params.RANGE_TYPES:
            values[name] = _range(name, value)
        elif definition.multi is not None and definition.type in ("enum", "query"):
            values[name] = _multi(name, value)
        elif isinstance(value, dict):
            raise ParameterError(
                f"Parameter {name!r} is a {definition.type} parameter, not a range: give it "
                f"as p_{name}=<value>, not p_{name}.start/p_{name}.end.",
                name=name,
                value=value,
                allowed=f"p_{name}=<value>",
            )
        else:
            values[name] = value
    return values


def _range(name: str, value: Any) -> Any:
    if isinstance(value, dict):
        missing = [f"p_{name}.{end}" for end in ("start", "end") if end not in value]
        if missing:
            raise ParameterError(
                f"The link gives only part of the range {name!r}: {', '.join(missing)} is "
                f"missing (a range is p_{name}=<start>--<end>).",
                name=name,
                value=value,
                allowed=f"p_{name}=<start>--<end>",
            )
        return {"start": value["start"], "end": value["end"]}
    if value in _params.DYNAMIC_RANGE_TOKENS:
        return value
    start, dashes, end = str(value).partition("--")
    if not dashes:
        raise ParameterError(
            f"The link's value {value!r} for the range {name!r} is not <start>--<end> (such "
            f"as p_{name}=2024-01-01--2024-01-31) nor a dynamic range such as d_last_7_days.",
            name=name,
            value=value,
            allowed=f"p_{name}=<start>--<end>",
        )
    return {"start": start, "end": end}


def _multi(name: str, value: Any) -> Any:
    if not isinstance(value, str) or not value.lstrip().startswith("["):
        return value  # one value (the read makes it a one-element list)
    try:
        items = json.loads(value)
    except ValueError:
        items = None
    if not isinstance(items, list) or not all(isinstance(i, (str, int)) for i in items):
        raise ParameterError(
            f"The link's value for the multi-value parameter {name!r} is not a JSON array of "
            f'values (such as p_{name}=["a","b"]), as the web UI writes it.',
            name=name,
            value=value,
            allowed='a JSON array such as ["a","b"]',
        )
    return [str(item) for item in items]


def _dashboard_values(
    board: Dashboard, link: WatchLink
) -> tuple[dict[str, Any], dict[int, dict[str, Any]]]:
    """The link's dashboard-level and widget-level values, read with the definitions of the
    widgets' queries (a dashboard parameter takes the type of the first widget mapped to it)."""
    from ._dashboards import DASHBOARD_LEVEL, _mappings

    shared: dict[str, _params.ParameterDefinition] = {}
    widgets = {widget.id: widget for widget in board.widgets}
    for widget in board.widgets:
        if widget.query is None:
            continue
        named = {d.name: d for d in _params.parse_definitions(widget.query.parameters)}
        for name, kind, mapping in _mappings(widget):
            if kind == DASHBOARD_LEVEL and name in named:
                shared.setdefault(mapping.get("mapTo") or name, named[name])
    renamed = {source: _renamed(d, source) for source, d in shared.items()}
    params = link_values(list(renamed.values()), link.params)
    per_widget: dict[int, dict[str, Any]] = {}
    for widget_id, raw in link.widget_params.items():
        found = widgets.get(widget_id)
        query = found.query if found is not None else None
        definitions = _params.parse_definitions(query.parameters) if query is not None else []
        per_widget[widget_id] = link_values(definitions, raw)
    return params, per_widget


def _renamed(definition: _params.ParameterDefinition, name: str) -> _params.ParameterDefinition:
    from dataclasses import replace

    return replace(definition, name=name)


# -- reading -----------------------------------------------------------------------------------
def read_watch_url(
    link: str,
    params: Mapping[str, Any] | None = None,
    *,
    max_age: int | None = None,
    url: str | None = None,
    api_key: str | None = None,
    profile: str | None = None,
    timeout: float | None = None,
    dtype_backend: DtypeBackend = "numpy_nullable",
    progress: Progress = None,
    client: WatchClient | None = None,
    cache: bool = True,
    offline: bool | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> pd.DataFrame | DashboardFrames:
    """Read a pasted Watch link: a shared result link, a query's results link, or a query or
    dashboard page copied from the browser (with its parameters), into a typed DataFrame
    (a dashboard: a dict of frames, as :func:`read_watch_dashboard`).

    The links understood are listed in ``watch_pandas._links.FORMS``. A key in the link
    (``?api_key=``) is sent only in the ``Authorization`` header and only to the link's own
    server; a configured key only to its configured server (docs/links.md). Downloads
    (``.csv``...) are read through the typed JSON of the same result. ``params`` override the
    link's ``p_`` values; the other options are those of :func:`read_watch_query`.
    """
    return read_link(
        link,
        params,
        max_age=max_age,
        url=url,
        api_key=api_key,
        profile=profile,
        timeout=timeout,
        dtype_backend=dtype_backend,
        progress=progress,
        client=client,
        cache=cache,
        offline=offline,
        cache_dir=cache_dir,
    )


def read_link(
    link: str,
    params: Mapping[str, Any] | None,
    *,
    max_age: int | None,
    url: str | None,
    api_key: str | None,
    profile: str | None,
    timeout: float | None,
    dtype_backend: DtypeBackend,
    progress: Progress,
    client: WatchClient | None,
    cache: bool,
    offline: bool | None,
    cache_dir: str | os.PathLike[str] | None,
    home: str | None = None,
) -> pd.DataFrame | DashboardFrames:
    """:func:`read_watch_url`; ``home`` is where a configured key belongs when the caller
    knows better than the environment (the magics' ``WatchMagic.url``)."""
    parsed = parse_link(link)
    given = _params.as_params(params)
    max_age, timeout = _read.check_read_options(
        max_age=max_age, timeout=timeout, dtype_backend=dtype_backend
    )
    if parsed.kind == "dashboard":
        return _read_dashboard(
            parsed, given, url, api_key, profile, client, home, max_age=max_age,
            timeout=timeout, dtype_backend=dtype_backend, progress=progress, cache=cache,
            offline=offline, cache_dir=cache_dir,
        )  # fmt: skip
    results = _cache.open_cache(cache, offline, cache_dir)
    if _cache.is_offline(offline):
        assert results is not None  # open_cache refuses offline without a cache
        return _read_offline(parsed, given, url, client, results, max_age, dtype_backend, progress)
    server, key, from_link = _key_for(parsed, url, api_key, profile, client, home)
    listeners = progress_listeners(progress)
    with _explained(parsed, from_link), _read.client_for(client, server, key, None) as watch:
        with deadline(timeout):
            if parsed.kind in ("latest", "query"):
                assert parsed.query_id is not None  # a query link has its id
                saved = watch.get_query(parsed.query_id)
                values = link_values(_params.parse_definitions(saved.parameters), parsed.params)
                return _read.read_saved_query(
                    watch,
                    saved,
                    {**values, **given},
                    max_age=max_age,
                    timeout=timeout,
                    dtype_backend=dtype_backend,
                    listeners=listeners,
                    results=results,
                )
            query = watch.get_query(parsed.query_id) if parsed.query_id is not None else None
            assert parsed.result_id is not None  # a result link has its id
            return _read.read_stored_result(
                watch,
                parsed.result_id,
                query=query,
                timeout=timeout,
                dtype_backend=dtype_backend,
                listeners=listeners,
                results=results,
            )


def _read_offline(
    link: WatchLink,
    given: dict[str, Any],
    url: str | None,
    client: WatchClient | None,
    results: _cache.ResultCache,
    max_age: int | None,
    dtype_backend: DtypeBackend,
    progress: Progress,
) -> pd.DataFrame:
    """A query link served from the local cache; a stored result or dashboard needs the server."""
    if link.kind not in ("latest", "query") or link.query_id is None:
        raise _cache.needs_network(
            "Reading a stored result's link",
            "Read its query's link (/queries/<id>), which the local cache can serve.",
        )
    server = client.url if client is not None else _server(link, url)
    query = _read.offline_saved_query(results, server, link.query_id)
    values = link_values(_params.parse_definitions(query.parameters), link.params)
    return _read.read_query_offline(
        results,
        server,
        link.query_id,
        {**values, **given},
        max_age=max_age,
        dtype_backend=dtype_backend,
        progress=progress,
    )


def _read_dashboard(
    link: WatchLink,
    given: dict[str, Any],
    url: str | None,
    api_key: str | None,
    profile: str | None,
    client: WatchClient | None,
    home: str | None,
    **options: Any,
) -> DashboardFrames:
    from ._dashboards import read_watch_dashboard

    if _cache.is_offline(options["offline"]):
        raise _cache.needs_network(
            "Reading a dashboard's link (the dashboard's layout)",
            "Read its queries' links, which the local cache can serve.",
        )
    options.pop("offline")
    server, key, from_link = _key_for(link, url, api_key, profile, client, home)
    assert link.dashboard is not None  # a dashboard link names one
    with _explained(link, from_link), _read.client_for(client, server, key, None) as watch:
        with deadline(options["timeout"]):
            board = watch.get_dashboard(link.dashboard)
        values, per_widget = _dashboard_values(board, link)
        return read_watch_dashboard(
            link.dashboard,
            {**values, **given},
            widget_params=per_widget,
            url=None if client is not None else server,
            api_key=key,
            client=client,
            **options,
        )


# -- the server and the key ----------------------------------------------------------------------
def _server(link: WatchLink, url: str | None) -> str:
    return normalize_url(url, source="the url= argument") if url is not None else link.server


def _key_for(
    link: WatchLink,
    url: str | None,
    api_key: str | None,
    profile: str | None,
    client: WatchClient | None,
    home: str | None,
) -> tuple[str, str | None, bool]:
    """The server, the key to send it (``None``: the client's own) and whether the key is the
    link's. Refuses to send a key to a server it does not belong to (module docstring)."""
    server = _server(link, url)
    if client is not None:
        if client.url != server:
            raise ConfigError(
                f"The link is for {server}, but client= talks to {client.url}: its key is "
                "not sent to another server. Pass a client of that server, or no client and "
                "api_key= for it."
            )
        return server, None, False
    if api_key is not None:
        return server, api_key, False
    if link.api_key is not None:
        if server != link.server:
            raise ConfigError(
                f"The link's key belongs to {link.server}, but url= points at {server}: the "
                "key is not sent there. Pass api_key= for that server, or leave url= out."
            )
        return server, link.api_key, True
    try:
        configured = resolve_config(home, None, profile)
    except ConfigError as exc:
        raise ConfigError(
            f"The link for {server} carries no api_key, and no key is configured for it "
            f"({exc.message.splitlines()[0]}). Pass api_key= (a key of {server}), or "
            f"configure {server} as the server (WATCH_URL and WATCH_API_KEY, or a profile)."
        ) from None
    if configured.url != server:
        raise ConfigError(
            f"The link is for {server}, but the configured key belongs to {configured.url}: "
            f"it is not sent to another server. Pass api_key= (a key of {server}), or use a "
            f"link with its ?api_key=."
        )
    return server, configured.api_key, False


class _explained:
    """Re-word an :class:`AuthError` from reading ``link`` (never with the key): a result
    link refused to a query key, or a key in the link the server did not accept."""

    def __init__(self, link: WatchLink, from_link: bool) -> None:
        self.link = link
        self.from_link = from_link

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if not isinstance(exc, AuthError) or isinstance(exc, ForbiddenError):
            return None
        where = "the key in this link" if self.from_link else "the key"
        if self.link.kind == "result":
            message = (
                f"{self.link.display} cannot be read with {where}: the server answers "
                "'Please login' on /api/query_results/<id> both to a wrong key and to a "
                "query API key, which it accepts only on routes that name its query. With a "
                "query key, use the query's results link "
                "(/api/queries/<query id>/results.json?api_key=..., or "
                f"/api/queries/<query id>/results/{self.link.result_id}.json?api_key=...); "
                "otherwise pass a user API key (api_key=)."
            )
        elif self.from_link:
            message = (
                f"The server {self.link.server} did not accept the key in this link "
                f"({self.link.display}): it is not a key of this server, or it is another "
                "query's API key (a query key reads only its own query). Ask for a fresh link, "
                "or pass api_key=."
            )
        else:
            return None
        raise AuthError(
            message, status_code=exc.status_code, url=exc.url, query_id=exc.query_id
        ) from None
