"""``read_watch_dashboard``: every query widget of a dashboard as a DataFrame, read concurrently.

Decisions:

* **Keys** are widget titles: the widget's query name, as the web UI titles it. Repeated names
  get `` (2)``, `` (3)``… in dashboard order. Text widgets have no data and are skipped.
* **Parameters** follow each widget's ``options.parameterMappings`` (docs/protocol.md#dashboards):
  ``dashboard-level`` takes ``params[mapTo]`` (the dashboard parameter's name),
  ``static-value`` takes the mapping's ``value``, ``widget-level`` keeps the query's saved
  default. A parameter without a mapping is widget-level, unless its definition has the
  legacy ``global: true`` flag, which makes it dashboard-level under its own name (as the web
  UI's ``Widget.getParameterMappings``). A dashboard-level parameter not in ``params`` takes
  ONE value for every widget mapped to it: the saved default of the first such widget in
  layout order (row, then column), as the web UI's ``Dashboard.getParametersDefs`` does, not
  each query's own default. A name in ``params`` that no widget takes at dashboard level is
  a :class:`ParameterError` before anything runs.
* **Concurrency**: at most ``max_workers`` widgets are read at once (a bounded
  ``ThreadPoolExecutor``); each worker thread has its own :class:`WatchClient` (its own
  ``requests.Session``, which is not formally thread-safe). A ``client=`` passed in is shared
  by the workers instead. The dashboard's own JSON already holds each widget's query, so a
  widget costs no extra ``GET /api/queries/<id>``.
* **Failures**: a failing widget does not lose the others. The result is a
  :class:`DashboardFrames` (a ``dict`` of the frames that worked) whose ``errors`` maps the
  failed titles to their exceptions; each failure is also a ``warnings.warn``. If every
  widget failed, or ``errors="raise"`` and any did, :class:`DashboardError` is raised, carrying
  ``.frames`` and ``.errors``. A widget the key may not see (``restricted``) is a failure too.
* ``timeout`` bounds the whole dashboard read, its own request included: a widget started
  later gets what is left, for every request it sends.
  Ctrl-C (``KeyboardInterrupt`` in the caller's thread or raised by a progress listener in a
  worker) cancels the widgets not started yet and every server job a worker is waiting on,
  waits for the workers to stop (their next poll sees the cancel), and only then closes
  their clients and re-raises.
* The local result cache applies per widget exactly as in :func:`read_watch_query`. Offline
  mode is not supported for dashboards (their layout is not cached): it raises
  :class:`ConfigError` instead of touching the network.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from . import _cache as _cache
from . import _output as _output
from . import _params as _params
from . import _read as _read
from ._deadline import deadline
from ._pool import Interrupt, WorkerClients, first_line, run_all
from ._progress import Progress, progress_listeners
from .errors import (
    ConfigError,
    DashboardError,
    ForbiddenError,
    ParameterError,
    WatchTimeoutError,
)

if TYPE_CHECKING:  # pragma: no cover
    import os

    import pandas as pd

    from ._client import WatchClient
    from ._decode import DtypeBackend
    from ._output import Output
    from .models import Dashboard, Widget

__all__ = [
    "read_watch_dashboard",
    "DashboardFrames",
    "DashboardError",
    "widget_parameters",
    "dashboard_defaults",
    "dashboard_parameters",
    "widget_titles",
]

DASHBOARD_LEVEL = "dashboard-level"
STATIC_VALUE = "static-value"
WIDGET_LEVEL = "widget-level"


class DashboardFrames(dict):
    """Frames by widget title; ``errors`` holds the widgets that failed (title → exception)."""

    def __init__(
        self,
        frames: Mapping[str, pd.DataFrame] | None = None,
        errors: Mapping[str, Exception] | None = None,
        dashboard: Dashboard | None = None,
    ) -> None:
        super().__init__(frames or {})
        self.errors: dict[str, Exception] = dict(errors or {})
        self.dashboard = dashboard


def read_watch_dashboard(
    dashboard: int | str,
    params: Mapping[str, Any] | None = None,
    *,
    max_age: int | None = None,
    url: str | None = None,
    api_key: str | None = None,
    profile: str | None = None,
    timeout: float | None = None,
    max_workers: int = 4,
    dtype_backend: DtypeBackend = "numpy_nullable",
    progress: Progress = None,
    client: WatchClient | None = None,
    cache: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    errors: Literal["warn", "raise"] = "warn",
    widget_params: Mapping[int, Mapping[str, Any]] | None = None,
    output: Output = "pandas",
) -> DashboardFrames:
    """Read every query widget of a dashboard (numeric id or slug) into DataFrames.

    Returns a dict of frames keyed by widget title (see the module docstring for titles,
    parameter mappings, concurrency and failures). ``params`` are dashboard parameters;
    ``widget_params`` (widget id → values) set widget-level parameters, as the web UI's
    ``p_w<widget id>_<name>``; static values stay as saved.
    ``max_age``, ``dtype_backend``, ``progress``, ``cache``, ``cache_dir`` and ``output``
    (the dict's values become ``pyarrow.Table`` or polars frames) apply to each widget as in
    :func:`read_watch_query`; ``timeout`` bounds the whole dashboard.
    """
    if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
        raise ConfigError(f"max_workers must be an integer >= 1, not {max_workers!r}.")
    if errors not in ("warn", "raise"):
        raise ConfigError(f"errors must be 'warn' or 'raise', not {errors!r}.")
    max_age, timeout = _read.check_read_options(
        max_age=max_age, timeout=timeout, dtype_backend=dtype_backend
    )
    output = _output.check_output(output)
    if _cache.is_offline(None):
        raise _cache.needs_network(
            "read_watch_dashboard (the dashboard's layout)",
            "Read its queries with read_watch_query, which serves them from the local cache.",
            argument=False,
        )
    started = time.monotonic()
    params = _params.as_params(params)
    results = _cache.open_cache(cache, False, cache_dir)
    listeners = progress_listeners(progress)
    # the layout request is bounded here; each worker bounds its widget's requests by what
    # is left (a deadline belongs to one thread)
    with _read.client_for(client, url, api_key, profile) as watch, deadline(timeout):
        board = watch.get_dashboard(dashboard)
        widgets = [w for w in board.widgets if w.query is not None or w.restricted]
        titles = _titles(widgets)
        _check_all_used(params, widgets, board)
        own = _check_widget_params(widget_params, widgets, board)
        values = {**dashboard_defaults(widgets), **params}
        per_widget = {
            title: {**widget_parameters(w, values), **own.get(w.id, {})}
            for title, w in zip(titles, widgets, strict=True)
        }
        saved = {
            title: _saved_names(w, params) - set(own.get(w.id, {}))
            for title, w in zip(titles, widgets, strict=True)
        }

        interrupt = Interrupt()

        def read_one(title: str, widget: Widget, own: WatchClient) -> pd.DataFrame:
            if interrupt.stop.is_set():
                raise KeyboardInterrupt
            if widget.query is None:
                raise ForbiddenError(
                    f"Widget {widget.id} of dashboard {board.name!r} is restricted: this key "
                    "may not see its query."
                )
            remaining = None if timeout is None else timeout - (time.monotonic() - started)
            if remaining is not None and remaining <= 0:
                raise WatchTimeoutError(
                    f"Gave up before reading {title!r}: the dashboard's timeout of "
                    f"{timeout:g} s had passed.",
                    query_id=widget.query.id,
                )
            return _read.read_saved_query(
                own,
                widget.query,
                per_widget[title],
                max_age=max_age,
                timeout=remaining,
                dtype_backend=dtype_backend,
                listeners=[interrupt.tracker(), *listeners],
                results=results,
                saved=saved[title],
                output=output,
            )

        workers = WorkerClients(watch if client is not None else None, url, api_key, profile)
        try:
            frames, failures = run_all(
                list(zip(titles, widgets, strict=True)),
                read_one,
                workers,
                max_workers,
                on_interrupt=lambda: interrupt.cancel_all(watch),
            )
        finally:
            workers.close()
    return _outcome(board, frames, failures, errors)


def widget_parameters(widget: Widget, params: Mapping[str, Any]) -> dict[str, Any]:
    """The values a widget's query gets from dashboard ``params`` (module docstring)."""
    given: dict[str, Any] = {}
    for name, kind, mapping in _mappings(widget):
        if kind == DASHBOARD_LEVEL:
            source = mapping.get("mapTo") or name
            if source in params:
                given[name] = params[source]
        elif kind == STATIC_VALUE and mapping.get("value") is not None:
            given[name] = mapping["value"]
    return given


def _saved_names(widget: Widget, params: Mapping[str, Any]) -> frozenset[str]:
    """The widget's parameters whose values are the dashboard's saved settings (a static
    value, or a shared default the caller did not override), not the caller's ``params``:
    each is formatted to the widget's own parameter type, as the web UI does."""
    names = set()
    for name, kind, mapping in _mappings(widget):
        if kind == STATIC_VALUE and mapping.get("value") is not None:
            names.add(name)
        elif kind == DASHBOARD_LEVEL and (mapping.get("mapTo") or name) not in params:
            names.add(name)
    return frozenset(names)


def dashboard_defaults(widgets: Sequence[Widget]) -> dict[str, Any]:
    """Each dashboard parameter's shared value when unset: the first mapped widget's default.

    "First" is in layout order (row, then column), the order the web UI builds dashboard
    parameters in; a default of ``None`` sets nothing (each query's own rules then apply).
    """
    shared: dict[str, Any] = {}
    seen: set[str] = set()
    for widget in sorted(widgets, key=_layout_position):
        query = widget.query
        if query is None:
            continue  # a restricted widget: no parameters to share
        for name, kind, mapping in _mappings(widget):
            source = mapping.get("mapTo") or name
            if kind != DASHBOARD_LEVEL or source in seen:
                continue
            seen.add(source)
            definition = next(d for d in query.parameters if d.get("name") == name)
            if definition.get("value") is not None:
                shared[source] = definition["value"]
    return shared


def dashboard_parameters(widgets: Sequence[Widget]) -> list[tuple[dict[str, Any], int]]:
    """The dashboard's parameters as (definition, query id) pairs, for a picker over the
    whole dashboard.

    One per dashboard-level name (``mapTo``), in layout order: a copy of the first mapped
    widget's definition under the dashboard name, titled by the mapping's title when it has
    one, its ``value`` that widget's default (the shared default of
    :func:`dashboard_defaults`); the query id is that widget's query (a query-fed dropdown
    lists its options through it).
    """
    out: list[tuple[dict[str, Any], int]] = []
    seen: set[str] = set()
    for widget in sorted(widgets, key=_layout_position):
        query = widget.query
        if query is None:
            continue
        for name, kind, mapping in _mappings(widget):
            source = mapping.get("mapTo") or name
            if kind != DASHBOARD_LEVEL or source in seen:
                continue
            seen.add(source)
            definition = dict(next(d for d in query.parameters if d.get("name") == name))
            definition["name"] = source
            definition["title"] = mapping.get("title") or definition.get("title") or source
            out.append((definition, query.id))
    return out


def widget_titles(widgets: Sequence[Widget]) -> dict[int, str]:
    """Widget id → the key of its frame in :func:`read_watch_dashboard`'s result."""
    readable = [w for w in widgets if w.query is not None or w.restricted]
    return {w.id: title for w, title in zip(readable, _titles(readable), strict=True)}


def _mappings(widget: Widget) -> list[tuple[str, str, Mapping[str, Any]]]:
    """(parameter name, mapping type, mapping) for each parameter of the widget's query.

    A parameter without a mapping is widget-level unless its definition is ``global``
    (legacy dashboards), which maps it to the dashboard parameter of the same name.
    """
    if widget.query is None:
        return []
    out: list[tuple[str, str, Mapping[str, Any]]] = []
    for definition in widget.query.parameters:
        name = definition.get("name")
        if not isinstance(name, str):
            continue  # no name: reading the widget's query refuses the definition
        mapping = widget.parameter_mappings.get(name)
        if not isinstance(mapping, Mapping) or not mapping.get("type"):
            kind = DASHBOARD_LEVEL if definition.get("global") else WIDGET_LEVEL
            mapping = {"name": name, "type": kind, "mapTo": name, "value": None}
        out.append((name, mapping["type"], mapping))
    return out


def _layout_position(widget: Widget) -> tuple[float, float]:
    position = ((widget.raw.get("options") or {}).get("position")) or {}
    row, col = position.get("row"), position.get("col")
    return (
        row if isinstance(row, (int, float)) else 0,
        col if isinstance(col, (int, float)) else 0,
    )


# -- steps ---------------------------------------------------------------------------------
def _titles(widgets: list[Widget]) -> list[str]:
    seen: dict[str, int] = {}
    titles = []
    for widget in widgets:
        title = widget.title if widget.query is not None else f"widget {widget.id}"
        seen[title] = seen.get(title, 0) + 1
        titles.append(title if seen[title] == 1 else f"{title} ({seen[title]})")
    return titles


def _check_all_used(params: Mapping[str, Any], widgets: list[Widget], board: Dashboard) -> None:
    used: set[str] = set()
    local: set[str] = set()
    for widget in widgets:
        for name, kind, mapping in _mappings(widget):
            if kind == DASHBOARD_LEVEL:
                used.add(mapping.get("mapTo") or name)
            else:
                local.add(name)
    unused = [name for name in params if name not in used]
    if unused:
        known = ", ".join(sorted(map(repr, used))) or "none"
        widget_level = [name for name in unused if name in local]
        why = (
            f" ({', '.join(map(repr, widget_level))} exist only as widget or static parameters, "
            "which keep their widget's own value; read that query with read_watch_query to "
            "choose it)"
            if widget_level
            else ""
        )
        raise ParameterError(
            f"Dashboard {board.name!r} has no widget that takes parameter(s) "
            f"{', '.join(map(repr, unused))} at dashboard level{why}; its dashboard "
            f"parameters are: {known}.",
            name=unused[0],
            value=params[unused[0]],
            allowed=known,
        )


def _check_widget_params(
    given: Mapping[int, Mapping[str, Any]] | None, widgets: list[Widget], board: Dashboard
) -> dict[int, dict[str, Any]]:
    """``widget_params`` checked: each widget on the dashboard, each name widget-level there."""
    if not given:
        return {}
    by_id = {widget.id: widget for widget in widgets}
    checked: dict[int, dict[str, Any]] = {}
    for widget_id, values in given.items():
        widget = by_id.get(widget_id)
        if widget is None:
            known = ", ".join(str(i) for i in by_id) or "none"
            raise ParameterError(
                f"Dashboard {board.name!r} has no query widget {widget_id!r}; its query "
                f"widgets are: {known}.",
                value=widget_id,
                allowed=known,
            )
        local = [name for name, kind, _ in _mappings(widget) if kind == WIDGET_LEVEL]
        for name in values:
            if name not in local:
                allowed = ", ".join(map(repr, local)) or "none"
                raise ParameterError(
                    f"Widget {widget_id} ({widget.title!r}) of dashboard {board.name!r} has no "
                    f"widget-level parameter {name!r}; its widget-level parameters are: "
                    f"{allowed} (dashboard parameters go in params, static values stay as "
                    "saved).",
                    name=name,
                    value=values[name],
                    allowed=allowed,
                )
        checked[widget_id] = dict(values)
    return checked


def _outcome(
    board: Dashboard,
    frames: dict[str, pd.DataFrame],
    failures: dict[str, Exception],
    errors: str,
) -> DashboardFrames:
    if failures and (not frames or errors == "raise"):
        lines = "; ".join(f"{title!r}: {first_line(exc)}" for title, exc in failures.items())
        what = (
            "every widget"
            if not frames
            else f"{len(failures)} of {len(frames) + len(failures)} widgets"
        )
        raise DashboardError(
            f"Dashboard {board.name!r}: {what} failed ({lines}).", frames=frames, errors=failures
        )
    for title, exc in failures.items():
        warnings.warn(
            f"Dashboard {board.name!r}: widget {title!r} failed and is left out: "
            f"{first_line(exc)} (see .errors of the result)",
            RuntimeWarning,
            stacklevel=3,
        )
    return DashboardFrames(frames, failures, board)
