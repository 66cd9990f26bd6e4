"""``show_dashboard``: a dashboard laid out in the notebook as on the server.

Decisions:

* **Grid.** Widgets are placed by their saved ``options.position`` (docs/protocol.md#dashboards)
  in an ipywidgets ``GridBox``: ``col``/``sizeX`` become ``grid-column``, ``row``/``sizeY``
  ``grid-row``, on the web UI's 6 columns and 50 px rows (margins included). A dashboard
  whose saved positions reach further than 6 columns (laid out on a 12-column grid) gets as
  many columns as its widgets reach, so no widget is moved or overlapped. Widgets without a
  position go below the others, 3 × 3 as the web UI's default. An ``autoHeight`` widget is as
  tall as its content; the others keep their saved height and scroll.
* **Views.** Text widgets show their Markdown (rendered by the notebook's Markdown renderer).
  A visualization widget's view comes from :func:`widget_view`, the one place that turns a
  widget and its frame into what is shown (charts, counters, tables).
* **Parameters.** The dashboard-level parameters are on top, built by the parameter picker's
  own field code (:class:`watch_pandas.widgets.QueryPicker`), from
  :func:`~watch_pandas._dashboards.dashboard_parameters`; widget-level and static-value
  mappings keep their widget's saved value, as :func:`read_watch_dashboard` applies them.
* **Runs.** One Run reads every widget concurrently through :func:`read_watch_dashboard` on
  a background thread (so Cancel stays clickable), with one progress line for all widgets.
  Cancel makes the next progress event of any widget raise ``KeyboardInterrupt`` in its
  worker, which :func:`read_watch_dashboard` treats as Ctrl-C: nothing new starts and every
  server job still waited on is cancelled. A failing widget shows its error in its cell;
  the others still show their frames.
* ipywidgets is the ``jupyter`` extra: without it, an ImportError says how to install it
  (a text layout of a grid would not say more than ``read_watch_dashboard``'s frames).
  No widget trait holds the API key: the key lives only in the view's private client.
"""

from __future__ import annotations

import html
import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import _params as _params
from ._client._queries import query_url
from ._dashboards import (
    DashboardFrames,
    dashboard_parameters,
    read_watch_dashboard,
    widget_titles,
)
from ._progress import ProgressEvent
from ._progress_widget import _ipywidgets
from ._read import check_read_options, server_url
from .errors import ConfigError, DashboardError, ParameterError, WatchError
from .widgets import QueryPicker, _mime_bundle

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ._client import WatchClient
    from ._decode import DtypeBackend
    from .models import Widget

__all__ = ["show_dashboard", "DashboardView", "GridCell", "grid_cells", "widget_view"]

log = logging.getLogger("watch_pandas")

GRID_COLUMNS = 6  # the web UI's dashboard grid
ROW_PX = 50  # one grid row, the margin below it included
GAP_PX = 15  # the margin between widgets
DEFAULT_SIZE = (3, 3)  # sizeX, sizeY of a widget saved without a position
_ERROR_STYLE = "color:#c62828"
_FINISHED = ("done", "failed", "cancelled")


# -- layout ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GridCell:
    """Where one widget goes: row and column from 0, sizes in rows and columns."""

    widget: Widget
    row: int
    col: int
    size_x: int
    size_y: int
    auto_height: bool = False

    @property
    def grid_row(self) -> str:
        return f"{self.row + 1} / span {self.size_y}"

    @property
    def grid_column(self) -> str:
        return f"{self.col + 1} / span {self.size_x}"

    @property
    def grid_area(self) -> str:
        """``grid-area``: row start / column start / row span / column span."""
        return f"{self.row + 1} / {self.col + 1} / span {self.size_y} / span {self.size_x}"


def _whole(value: Any, least: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return max(least, int(value))


def grid_cells(widgets: Sequence[Widget]) -> tuple[int, list[GridCell]]:
    """(number of columns, cells in layout order: row, then column) for ``widgets``."""
    placed: list[GridCell] = []
    unplaced: list[Widget] = []
    for widget in widgets:
        position = (widget.raw.get("options") or {}).get("position")
        if not isinstance(position, Mapping):
            unplaced.append(widget)
            continue
        row, col = _whole(position.get("row"), 0), _whole(position.get("col"), 0)
        if row is None or col is None:
            unplaced.append(widget)
            continue
        placed.append(
            GridCell(
                widget,
                row,
                col,
                _whole(position.get("sizeX"), 1) or DEFAULT_SIZE[0],
                _whole(position.get("sizeY"), 1) or DEFAULT_SIZE[1],
                bool(position.get("autoHeight")),
            )
        )
    bottom = max((c.row + c.size_y for c in placed), default=0)
    for widget in unplaced:
        placed.append(GridCell(widget, bottom, 0, *DEFAULT_SIZE))
        bottom += DEFAULT_SIZE[1]
    columns = max([GRID_COLUMNS, *(c.col + c.size_x for c in placed)])
    return columns, sorted(placed, key=lambda c: (c.row, c.col))


def widget_view(widget: Widget, frame: pd.DataFrame) -> object:
    """What a visualization widget shows for its frame: its saved visualization drawn as the
    web UI draws it (:func:`watch_pandas._charts.render`); the frame's table for a widget
    without one, and the table with one line naming the ``plot`` extra when plotly is missing.
    """
    from ._charts import NotDrawn, render

    if widget.visualization is None:
        return frame
    try:
        return render(widget.visualization, frame)
    except ConfigError as exc:  # plotly is not installed (the plot extra)
        return NotDrawn(widget.visualization, frame, reason=exc.message)


# -- the parameters on top ---------------------------------------------------------------------
class _DashboardForm(QueryPicker):
    """The picker's field building, reading and checking (``QueryPicker``'s methods), over the
    dashboard's parameters. Its ``__init__`` (one saved query's read) is not used: this sets
    the attributes those methods read (``query_id`` is the query a field came from, for
    dropdown options and messages)."""

    def __init__(
        self,
        widgets: Any,
        client: WatchClient,
        definitions: list[tuple[dict[str, Any], int]],
        given: Mapping[str, Any],
        message: Any,
        lock: threading.RLock,
    ) -> None:
        self._client = client
        self.offline = False
        self._now = None
        self.message = message
        self._lock = lock
        self.definitions = _params.parse_definitions([d for d, _ in definitions])
        self.fields = {}
        self.query_id = definitions[0][1] if definitions else 0
        for definition, (_, owner) in zip(self.definitions, definitions, strict=True):
            self.query_id = owner
            self.fields[definition.name] = self._build_field(widgets, definition, given)


# -- the view ----------------------------------------------------------------------------------
@dataclass
class DashboardCell:
    """One widget on the grid: its place, its box, what it shows and its status line."""

    widget: Widget
    title: str
    place: GridCell
    box: Any
    output: Any
    status: Any


class DashboardView:
    """A dashboard laid out as on the server: parameters, Run/Cancel and progress on top, the
    widgets on their grid below. Build it with :func:`show_dashboard`.

    ``.frames`` holds the latest run's frames (a :class:`DashboardFrames`: title → DataFrame,
    failures in ``.errors``), ``.error`` the error that stopped a run. Display it by leaving
    it as the last expression of a cell (or ``display(view)``).
    """

    def __init__(
        self,
        dashboard: int | str,
        params: Mapping[str, Any] | None = None,
        *,
        url: str | None = None,
        api_key: str | None = None,
        profile: str | None = None,
        client: WatchClient | None = None,
        max_age: int | None = None,
        timeout: float | None = None,
        max_workers: int = 4,
        dtype_backend: DtypeBackend = "numpy_nullable",
        cache: bool = True,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.max_age, self.timeout = check_read_options(
            max_age=max_age, timeout=timeout, dtype_backend=dtype_backend
        )
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
            raise ConfigError(f"max_workers must be an integer >= 1, not {max_workers!r}.")
        widgets = _ipywidgets()  # before any request: without the extra, say so at once
        self._options: dict[str, Any] = dict(
            max_age=self.max_age,
            timeout=self.timeout,
            max_workers=max_workers,
            dtype_backend=dtype_backend,
            cache=cache,
            cache_dir=cache_dir,
        )
        self._owns_client = client is None
        if client is None:
            from ._client import WatchClient

            client = WatchClient(url, api_key, profile=profile)
        self._client = client
        self._server = server_url(client, url, api_key, profile)
        self._key = dashboard  # the id or slug the caller gave (it found the dashboard)
        self._lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._cancel_requested = False
        self._states: dict[int, str] = {}
        self._started = 0.0
        self.frames = DashboardFrames()
        self.error: BaseException | None = None

        self.dashboard = client.get_dashboard(dashboard)
        given = _params.as_params(params)
        self.message = widgets.HTML(value="")
        definitions = dashboard_parameters(self.dashboard.widgets)
        known = {d["name"] for d, _ in definitions}
        unknown = [name for name in given if name not in known]
        if unknown:
            allowed = ", ".join(sorted(map(repr, known))) or "none"
            raise ParameterError(
                f"Dashboard {self.dashboard.name!r} has no dashboard parameter "
                f"{unknown[0]!r}; its dashboard parameters are: {allowed}.",
                name=unknown[0],
                value=given[unknown[0]],
                allowed=allowed,
            )
        self._form = _DashboardForm(widgets, client, definitions, given, self.message, self._lock)
        self.fields = self._form.fields

        self.run_button = widgets.Button(
            description="Run", button_style="primary", icon="play", tooltip="Read every widget"
        )
        self.cancel_button = widgets.Button(
            description="Cancel", icon="stop", disabled=True, tooltip="Cancel the server jobs"
        )
        self.run_button.on_click(lambda _button: self.run())
        self.cancel_button.on_click(lambda _button: self.cancel())
        self.progress = widgets.HTML(value="")
        link = f"{self._server}/dashboards/{self.dashboard.id}"
        heading = widgets.HTML(
            value=f"<b>{html.escape(self.dashboard.name)}</b> "
            f'<a href="{html.escape(link)}" target="_blank">{html.escape(link)}</a>'
        )
        self.parameters_box = widgets.VBox(
            [
                heading,
                *(f.row for f in self.fields.values()),
                widgets.HBox([self.run_button, self.cancel_button, self.progress]),
                self.message,
            ]
        )
        self.columns, places = grid_cells(self.dashboard.widgets)
        titles = widget_titles(self.dashboard.widgets)
        self.cells = [self._cell(widgets, place, titles) for place in places]
        self.grid = widgets.GridBox(
            [cell.box for cell in self.cells],
            layout=widgets.Layout(
                grid_template_columns=f"repeat({self.columns}, minmax(0, 1fr))",
                grid_auto_rows=f"minmax({ROW_PX - GAP_PX}px, auto)",
                grid_gap=f"{GAP_PX}px",
                width="100%",
            ),
        )
        self.widget = widgets.VBox([self.parameters_box, self.grid])

    def _cell(self, widgets, place: GridCell, titles: Mapping[int, str]) -> DashboardCell:
        widget = place.widget
        output = widgets.Output()
        status = widgets.HTML(value="")
        children: list[Any] = []
        if widget.query is not None:
            url = query_url(self._server, widget.query.id)
            subtitle = widget.visualization_name or ""
            children.append(
                widgets.HTML(
                    value=f'<b><a href="{html.escape(url)}" target="_blank">'
                    f"{html.escape(widget.query.name)}</a></b>"
                    + (f" <small>{html.escape(subtitle)}</small>" if subtitle else "")
                )
            )
        elif not widget.restricted:
            output.outputs = (
                {
                    "output_type": "display_data",
                    "data": {"text/markdown": widget.text, "text/plain": widget.text},
                    "metadata": {},
                },
            )
        children += [status, output]
        height = None if place.auto_height else f"{place.size_y * ROW_PX - GAP_PX}px"
        box = widgets.VBox(
            children,
            layout=widgets.Layout(
                # grid-area, not grid-row/grid-column: the front end applies every layout
                # trait, and removing the unset grid-area shorthand clears those two again
                grid_area=place.grid_area,
                height=height,
                overflow="auto",
                border="1px solid #e0e0e0",
                padding="4px 8px",
            ),
        )
        title = titles.get(widget.id, widget.title)
        return DashboardCell(widget, title, place, box, output, status)

    # -- running -------------------------------------------------------------------------
    @property
    def _readable(self) -> list[DashboardCell]:
        return [c for c in self.cells if c.widget.query is not None or c.widget.restricted]

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run(self, *, wait: bool = False) -> bool:
        """Check the parameters and read every widget on a worker thread (``wait`` joins it).

        Returns False when a parameter is invalid or a run is already going.
        """
        with self._lock:
            if self.running:
                return False
            given = self._form.validate()
            if given is None:
                return False
            self.error = None
            self._cancel_requested = False
            self._states = {}
            self._started = time.monotonic()
            self._say("")
            for cell in self._readable:
                cell.status.value = ""
            self._show_progress("queued")
            self.run_button.disabled = True
            self.cancel_button.disabled = False
            self._thread = threading.Thread(
                target=self._work,
                args=(given,),
                name=f"watch-dashboard-{self.dashboard.id}",
                daemon=True,
            )
            self._thread.start()
        if wait:
            self.wait()
        return True

    def wait(self, timeout: float | None = None) -> DashboardFrames:
        """Block until the current run ends; return the frames."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self.frames

    def cancel(self) -> bool:
        """Stop the run: every widget's server job is cancelled. True if a run was going."""
        with self._lock:
            if not self.running or self._cancel_requested:
                return False
            self._cancel_requested = True
            self.cancel_button.disabled = True
        self._say("cancelling…")
        return True

    def _listen(self, event: ProgressEvent) -> None:
        """Runs in the workers: one progress line, each cell's state, and Cancel."""
        with self._lock:
            if self._cancel_requested and not event.finished:
                # read_watch_dashboard takes this as Ctrl-C and cancels every waited-on job
                raise KeyboardInterrupt
            if event.query_id is None:
                return
            self._states[event.query_id] = event.state
            for cell in self._readable:
                if cell.widget.query is not None and cell.widget.query.id == event.query_id:
                    cell.status.value = _small(event.state)
            self._show_progress("running")

    def _show_progress(self, state: str, *, ended: int | None = None) -> None:
        total = len(self._readable)
        if ended is None:
            ended = sum(
                1
                for c in self._readable
                if c.widget.query is not None and self._states.get(c.widget.query.id) in _FINISHED
            )
        elapsed = time.monotonic() - self._started
        self.progress.value = (
            f'<span style="font-family:monospace">watch: {state} · {ended} of {total} '
            f"widgets · {elapsed:.1f} s</span>"
        )

    def _work(self, given: dict[str, Any]) -> None:
        try:
            frames = read_watch_dashboard(
                self._key,
                given,
                client=self._client,
                progress=[self._listen],
                errors="raise",
                **self._options,
            )
        except DashboardError as exc:  # some widgets failed: show them and the others
            self._deliver(exc.frames, exc.errors)
        except KeyboardInterrupt:  # Cancel (see _listen)
            self.error = KeyboardInterrupt("cancelled")
            with self._lock:
                self.frames = DashboardFrames(dashboard=self.dashboard)
                self._show_progress("cancelled", ended=0)
            self._say("Cancelled: every widget's server job was stopped; press Run to try again.")
        except ParameterError as exc:
            self.error = exc
            target = self.fields.get(exc.name or "")
            if target is not None:
                target.show_error(str(exc))
            else:
                self._say(str(exc), error=True)
        except WatchError as exc:
            self.error = exc
            self._say(str(exc), error=True)
        except Exception as exc:  # a thread must not die silently
            log.exception("dashboard run failed")
            self.error = exc
            self._say(f"{type(exc).__name__}: {exc}", error=True)
        else:
            self._deliver(frames, {})
        finally:
            with self._lock:
                self.run_button.disabled = False
                self.cancel_button.disabled = True

    def _deliver(
        self, frames: Mapping[str, pd.DataFrame], failures: Mapping[str, Exception]
    ) -> None:
        with self._lock:
            self.frames = DashboardFrames(frames, failures, self.dashboard)
            for cell in self._readable:
                if cell.title in frames:
                    frame = frames[cell.title]
                    data, metadata = _mime_bundle(widget_view(cell.widget, frame))
                    cell.output.outputs = (
                        {"output_type": "display_data", "data": data, "metadata": metadata},
                    )
                    cell.status.value = _small(f"{len(frame)} rows")
                elif cell.title in failures:
                    cell.output.outputs = ()
                    problem = str(failures[cell.title]).strip()
                    cell.status.value = (
                        f'<span style="{_ERROR_STYLE}">{html.escape(problem, quote=False)}</span>'
                    )
            total = len(frames) + len(failures)
            self._show_progress("done" if not failures else "failed", ended=len(frames))
            late = (
                " (Cancel came after every widget had finished)" if self._cancel_requested else ""
            )
        if failures:
            self._say(
                f"{len(failures)} of {total} widgets failed: see their cells{late}.", error=True
            )
        else:
            self._say(f"{len(frames)} widgets read{late}.")

    # -- showing ---------------------------------------------------------------------------
    def _say(self, text: str, *, error: bool = False) -> None:
        style = f' style="{_ERROR_STYLE}"' if error else ""
        with self._lock:
            self.message.value = (
                f"<span{style}>{html.escape(text, quote=False)}</span>" if text else ""
            )

    def close(self) -> None:
        """Close the widgets and the client the view created."""
        self.widget.close()
        if self._owns_client:
            self._client.close()

    def _repr_mimebundle_(self, **kwargs: Any):
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return (
            f"<DashboardView {self.dashboard.name!r} ({len(self.cells)} widgets, "
            f"{self._server}/dashboards/{self.dashboard.id})>"
        )


def _small(text: str) -> str:
    return f'<small style="color:#777">{html.escape(text, quote=False)}</small>'


def show_dashboard(
    dashboard: int | str,
    params: Mapping[str, Any] | None = None,
    *,
    url: str | None = None,
    api_key: str | None = None,
    profile: str | None = None,
    client: WatchClient | None = None,
    max_age: int | None = None,
    timeout: float | None = None,
    max_workers: int = 4,
    dtype_backend: DtypeBackend = "numpy_nullable",
    cache: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    run: bool = True,
) -> DashboardView:
    """Show a dashboard (numeric id or slug) in the notebook, laid out as on the server.

    Widgets follow their saved grid positions: charts, counters and tables with their frames,
    text widgets with their Markdown. The dashboard's parameters are on top (prefilled with
    ``params`` or the shared defaults), with one Run/Cancel and one progress line for all
    widgets, which are read concurrently by :func:`read_watch_dashboard` (the read options
    mean the same there). With ``run=True`` the first read starts at once. ``.frames`` of the
    returned view holds the frames by widget title. Needs ipywidgets
    (``pip install 'watch-pandas[jupyter]'``).
    """
    view = DashboardView(
        dashboard,
        params,
        url=url,
        api_key=api_key,
        profile=profile,
        client=client,
        max_age=max_age,
        timeout=timeout,
        max_workers=max_workers,
        dtype_backend=dtype_backend,
        cache=cache,
        cache_dir=cache_dir,
    )
    if run:
        view.run()
    return view
