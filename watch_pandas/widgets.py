"""Notebook widgets: the parameter picker for saved queries (and, from
:mod:`watch_pandas._progress_widget`, the inline job progress line).

ipywidgets is optional (``pip install 'watch-pandas[jupyter]'``) and imported only inside the
functions and classes that draw something, so this module imports without it. Without
ipywidgets, or outside a kernel with a widget front end, :func:`auto_progress` falls back to
the text line of :class:`~watch_pandas._progress.TextProgress`. Choosing the listener and
wording an event belong to :mod:`watch_pandas._progress` (the core never imports this module
at the top); this module draws.

The widgets are listeners of the same progress events a script sees: the
picker calls :func:`watch_pandas.read_watch_query` like any caller, on a background thread so
its Cancel button stays clickable. No widget trait ever holds the API key: the key lives only
in the picker's private :class:`~watch_pandas._client.WatchClient`.
"""

from __future__ import annotations

import html
import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from . import _cache as _cache
from . import _params as _params
from ._client._args import as_id
from ._client._queries import query_url
from ._progress import ProgressEvent
from ._progress_widget import (
    ProgressDisplay,
    _ipywidgets,
    auto_progress,
    widget_frontend_available,
)
from ._read import check_read_options, offline_saved_query, server_url
from .errors import ParameterError, QueryCancelledError, QueryFailedError, WatchError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ._client import WatchClient
    from .models import Query

__all__ = [
    "auto_progress",
    "widget_frontend_available",
    "ProgressDisplay",
    "QueryPicker",
    "picker",
]

log = logging.getLogger("watch_pandas")

_ERROR_STYLE = "color:#c62828"


# -- the parameter picker --------------------------------------------------------------------
@dataclass
class _Field:
    """One parameter's row: its definition, input control(s) and the error line next to it."""

    definition: _params.ParameterDefinition
    controls: tuple[Any, ...]
    error: Any
    row: Any
    options: list[str] | None = None  # values of a dropdown (enum or query)

    def show_error(self, message: str) -> None:
        self.error.value = (
            f'<span style="{_ERROR_STYLE}">{html.escape(message, quote=False)}</span>'
        )

    def clear_error(self) -> None:
        self.error.value = ""

    @property
    def has_error(self) -> bool:
        return bool(self.error.value)


class QueryPicker:
    """A form for one saved query: a control per parameter, Run, Cancel, progress and output.

    Build it with :func:`picker`. ``.df`` holds the latest frame, ``.error`` the latest error;
    ``on_result(df)`` is called (on the worker thread) after every successful run. Display it
    by leaving it as the last expression of a cell (or ``display(p)``).
    """

    def __init__(
        self,
        query_id: int,
        *,
        url: str | None = None,
        api_key: str | None = None,
        profile: str | None = None,
        client: WatchClient | None = None,
        params: Mapping[str, Any] | None = None,
        on_result: Callable[[pd.DataFrame], Any] | None = None,
        max_age: int | None = None,
        timeout: float | None = None,
        dtype_backend: str = "numpy_nullable",
        now: datetime | None = None,
        offline: bool | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        # the read's own checks, so a bad value fails here and not on the first Run
        self.query_id = as_id(query_id, "query_id")
        self.max_age, self.timeout = check_read_options(
            max_age=max_age, timeout=timeout, dtype_backend=dtype_backend
        )
        self.offline = _cache.is_offline(offline)
        self._cache_dir = cache_dir
        widgets = _ipywidgets()
        self.on_result = on_result
        self.dtype_backend = dtype_backend
        self.df: pd.DataFrame | None = None
        self.error: BaseException | None = None
        self.job_id: str | None = None
        self._owns_client = client is None and not self.offline
        if client is None and not self.offline:
            from ._client import WatchClient

            client = WatchClient(url, api_key, profile=profile)
        self._client = client  # None offline without one: nothing may touch the network
        self._server = server_url(client, url, api_key, profile)
        self._lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._cancel_requested = False
        self._job_over = False  # the server finished the job: Cancel must not DELETE it
        self._delivered = False  # this run's rows are shown: Cancel has nothing to stop
        self._cancel_failure: str | None = None

        query = self._query()
        self.query_name = query.name
        self.query_url = query_url(self._server, self.query_id)
        self.definitions = _params.parse_definitions(query.parameters)
        self._now = now
        given = _params.as_params(params)
        unknown = [name for name in given if name not in {d.name for d in self.definitions}]
        if unknown:
            # Reuse the library's message (names the known parameters, suggests a spelling).
            _params.resolve_parameters(
                self.definitions, {unknown[0]: given[unknown[0]]}, query_id=self.query_id
            )

        self.fields: dict[str, _Field] = {}
        for definition in self.definitions:
            self.fields[definition.name] = self._build_field(widgets, definition, given)

        self.run_button = widgets.Button(
            description="Run", button_style="primary", icon="play", tooltip="Run the query"
        )
        self.cancel_button = widgets.Button(
            description="Cancel", icon="stop", disabled=True, tooltip="Cancel the server job"
        )
        self.run_button.on_click(lambda _button: self.run())
        self.cancel_button.on_click(lambda _button: self.cancel())
        self.progress = ProgressDisplay()
        self.message = widgets.HTML(value="")
        self.output = widgets.Output()
        title = widgets.HTML(
            value=f"<b>{html.escape(self.query_name or f'query {self.query_id}')}</b> "
            f'<a href="{html.escape(self.query_url)}" target="_blank">#{self.query_id}</a>'
        )
        self.widget = widgets.VBox(
            [
                title,
                *(f.row for f in self.fields.values()),
                widgets.HBox([self.run_button, self.cancel_button, self.progress.widget]),
                self.message,
                self.output,
            ]
        )

    # -- building -------------------------------------------------------------------------
    def _query(self) -> Query:
        """The query's definition: from the server, or offline as kept in the local cache."""
        if not self.offline:
            assert self._client is not None
            return self._client.get_query(self.query_id)
        results = _cache.open_cache(True, True, self._cache_dir)
        assert results is not None  # open_cache with cache=True
        return offline_saved_query(results, self._server, self.query_id)

    def _build_field(self, widgets, definition, given: Mapping[str, Any]) -> _Field:
        kind = definition.type
        options: list[str] | None = None
        labels: list[Any] | None = None
        if kind == "enum":
            options = list(definition.enum_options)
            labels = list(options)
        elif kind == "query" and definition.query_id and not self.offline:
            # (no source query named, or offline, where the options cannot be listed: the
            # value is typed — the query's own /dropdown would offer the wrong values)
            assert self._client is not None  # online there is always one
            rows = self._client.get_dropdown_options(
                self.query_id, parameter_query_id=definition.query_id
            )
            labels = [
                (str(row.get("name", row.get("value"))), str(row.get("value"))) for row in rows
            ]
            options = [value for _label, value in labels]

        problem = ""
        start = given[definition.name] if definition.name in given else definition.default
        try:
            unset = start is None or (isinstance(start, str) and start == "")
            wire = None if unset else self._to_wire(definition, start, options)
        except ParameterError as exc:
            wire, problem = None, str(exc)
        if start is None and kind in ("text", "text-pattern"):
            wire = ""

        layout = widgets.Layout(width="auto")
        if definition.is_multi and options is None:
            typed = ", ".join(str(v) for v in (wire or ()))
            controls = (widgets.Text(value=typed, placeholder="values, comma-separated"),)
        elif definition.is_multi and options is not None:
            chosen = tuple(v for v in (wire or ()) if v in options)
            controls = (
                widgets.SelectMultiple(
                    options=labels or [], value=chosen, rows=min(6, max(2, len(labels or [])))
                ),
            )
        elif options is not None:
            choice = wire if wire in options else None
            controls = (widgets.Dropdown(options=labels or [], value=choice),)
        elif kind == "number":
            # A text box, not IntText/FloatText: those parse in the browser (an IntText turns
            # "0.5" into 0) and hold a double (integers past 2**53 change); typed text is read
            # by to_wire exactly. No default: an empty box, not a silent 0.
            typed = "" if wire is None else str(wire)
            controls = (widgets.Text(value=typed, placeholder="a number", layout=layout),)
        elif kind in _params.DATE_TYPES:
            controls = (self._date_control(widgets, kind, wire),)
        elif kind in _params.RANGE_TYPES:
            single = _params.RANGE_TYPES[kind]
            bounds = (wire or {}).get("start"), (wire or {}).get("end")
            controls = tuple(self._date_control(widgets, single, value) for value in bounds)
        else:  # text, text-pattern and types this client does not know
            controls = (widgets.Text(value="" if wire is None else str(wire), layout=layout),)

        label = widgets.Label(
            value=definition.title,
            tooltip=f"{definition.name} ({kind})",
            layout=widgets.Layout(width="14em"),
        )
        error = widgets.HTML(value="")
        separator: list[Any] = [widgets.Label(value="→")] if len(controls) == 2 else []
        row = widgets.HBox([label, controls[0], *separator, *controls[1:], error])
        result = _Field(definition, controls, error, row, options=options)
        if problem:
            result.show_error(problem)
        for control in controls:
            control.observe(lambda _change, f=result: self._check_field(f), names="value")
        return result

    def _to_wire(self, definition, value, options):
        return _params.to_wire(
            definition, value, now=self._now, query_options=options, query_id=self.query_id
        )

    @staticmethod
    def _date_control(widgets, kind: str, wire: str | None):
        if kind == "date":
            return widgets.DatePicker(value=date.fromisoformat(wire) if wire else None)
        return widgets.NaiveDatetimePicker(value=datetime.fromisoformat(wire) if wire else None)

    # -- reading the form ---------------------------------------------------------------------
    def values(self) -> dict[str, Any]:
        """The form's values as Python objects (what ``read_watch_query`` is given).

        Datetime controls are cut to the parameter's precision (minutes or seconds); a number
        is an int when its text is integral, a float when a float holds it exactly, else its
        exact text.
        Raises ParameterError (and marks the field) for an empty or inconsistent field.
        """
        result = {}
        for name, f in self.fields.items():
            result[name] = self._field_value(f)
        return result

    def _field_value(self, f: _Field) -> Any:
        definition, kind = f.definition, f.definition.type
        raw = [control.value for control in f.controls]
        if definition.is_multi and f.options is None:
            return [part.strip() for part in raw[0].split(",") if part.strip()]
        if definition.is_multi:
            return list(raw[0])
        if kind in _params.DATE_TYPES:
            return self._point(f, raw[0], kind, "")
        if kind in _params.RANGE_TYPES:
            single = _params.RANGE_TYPES[kind]
            start = self._point(f, raw[0], single, "start ")
            end = self._point(f, raw[1], single, "end ")
            if start > end:
                raise self._field_error(f, (start, end), "the start must be on or before the end")
            return (start, end)
        if kind == "number":
            if not raw[0].strip():
                raise self._field_error(f, raw[0], "enter a number")
            return self._to_wire(definition, raw[0], None)  # int, float, or exact numeric text
        if f.options is not None and raw[0] is None:
            raise self._field_error(f, None, "choose one of the options")
        return raw[0]

    def _point(self, f: _Field, value, kind: str, role: str):
        if value is None:
            raise self._field_error(f, None, f"pick a {role}{'date' if kind == 'date' else 'time'}")
        if kind == "datetime-local":
            return value.replace(second=0, microsecond=0)
        if kind == "datetime-with-seconds":
            return value.replace(microsecond=0)
        return value

    def _field_error(self, f: _Field, value, problem: str) -> ParameterError:
        message = f"{f.definition.title}: {problem}."
        return ParameterError(message, name=f.definition.name, value=value, query_id=self.query_id)

    def _check_field(self, f: _Field) -> None:
        """Validate one field as soon as it changes (start ≤ end, formats, options)."""
        try:
            value = self._field_value(f)
            self._to_wire(f.definition, value, f.options)
        except ParameterError as exc:
            f.show_error(str(exc))
        else:
            f.clear_error()

    def validate(self) -> dict[str, Any] | None:
        """Check every field; show each error next to its field; return the values or None."""
        given: dict[str, Any] = {}
        failed = False
        for name, f in self.fields.items():
            f.clear_error()
            try:
                value = self._field_value(f)
                self._to_wire(f.definition, value, f.options)
            except ParameterError as exc:
                f.show_error(str(exc))
                failed = True
            else:
                given[name] = value
        if failed:
            return None
        try:
            _params.resolve_parameters(
                self.definitions,
                given,
                now=self._now,
                dropdown_options=lambda d: self.fields[d.name].options or [],
                query_id=self.query_id,
            )
        except ParameterError as exc:
            self._show_parameter_error(exc)
            return None
        return given

    def _show_parameter_error(self, exc: ParameterError) -> None:
        target = self.fields.get(exc.name or "")
        if target is not None:
            target.show_error(str(exc))
        else:
            self._say(str(exc), error=True)

    # -- running ---------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run(self, *, wait: bool = False) -> bool:
        """Validate the form and start the read on a worker thread (``wait`` joins it).

        Returns False when a field is invalid or a run is already going.
        """
        with self._lock:
            if self.running:
                return False
            given = self.validate()
            if given is None:
                return False
            self.error = None
            self.job_id = None
            self._job_over = False
            self._delivered = False
            self._cancel_failure = None
            self._cancel_requested = False
            self.progress.clear()
            self._say("")
            self.run_button.disabled = True
            self.cancel_button.disabled = False
            self._thread = threading.Thread(
                target=self._work, args=(given,), name=f"watch-picker-{self.query_id}", daemon=True
            )
            self._thread.start()
        if wait:
            self.wait()
        return True

    def wait(self, timeout: float | None = None) -> pd.DataFrame | None:
        """Block until the current run ends; return the frame (None if it failed)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self.df

    def cancel(self) -> bool:
        """Cancel the running server job (or the job about to be created). True if asked."""
        with self._lock:
            if not self.running or self._delivered:
                return False  # nothing running, or the rows are already shown
            self._cancel_requested = True
            # a job the server already finished is not cancelled: that would mark it
            # cancelled for everyone sharing it (same SQL, same job); the run still stops
            job_id = None if self._job_over else self.job_id
            self.cancel_button.disabled = True
            self._say("cancelling…")
        if job_id is not None:
            self._cancel_job(job_id)
        return True

    def _cancel_job(self, job_id: str) -> None:
        if self._client is None:
            return  # offline: reads come from the local cache, there is no job
        try:
            self._client.cancel_job(job_id)
        except WatchError as exc:
            self._cancel_failure = f"Could not cancel job {job_id}: {exc}"
            self._say(self._cancel_failure, error=True)

    def _listen(self, event: ProgressEvent) -> None:
        """Learn the job id and when the job ends from progress events (and honour an early
        Cancel)."""
        cancel_now = None
        with self._lock:
            waiting = event.state in ("queued", "running")
            if event.job_id and event.job_id != self.job_id and (waiting or self.job_id is None):
                self.job_id = event.job_id  # the first job, or a new one (a query key re-asks)
                self._job_over = False
                if self._cancel_requested and waiting:
                    cancel_now = event.job_id
            if not waiting:
                self._job_over = True  # downloading the result, or finished
        if cancel_now is not None:
            self._cancel_job(cancel_now)

    def _work(self, given: dict[str, Any]) -> None:
        from ._api import read_watch_query

        try:
            frame = read_watch_query(
                self.query_id,
                given,
                max_age=self.max_age,
                timeout=self.timeout,
                dtype_backend=self.dtype_backend,  # type: ignore[arg-type]
                progress=[self._listen, self.progress],
                client=self._client,
                url=self._server,
                offline=self.offline,
                cache_dir=self._cache_dir,
            )
        except ParameterError as exc:
            self.error = exc
            self._show_parameter_error(exc)
        except QueryCancelledError as exc:
            self.error = exc
            self._say("Cancelled: the server job was stopped; press Run to try again.")
        except QueryFailedError as exc:
            self.error = exc
            reason = exc.server_message or str(exc)
            self._say(f"The query failed: {reason} ({self.query_url})", error=True)
        except WatchError as exc:
            self.error = exc
            self._say(str(exc), error=True)
        except Exception as exc:  # a thread must not die silently
            log.exception("picker run failed")
            self.error = exc
            self._say(f"{type(exc).__name__}: {exc}", error=True)
        else:
            with self._lock:  # Cancel either came first (the rows are dropped) or is refused
                cancelled = self._cancel_requested
                if not cancelled:
                    self.df = frame
                    self._delivered = True
            if cancelled:
                failure = self._cancel_failure
                note = "the rows that arrived after Cancel were not shown"
                self._say(
                    f"{failure}; {note}." if failure else f"Cancelled: {note}.", error=bool(failure)
                )
                return
            self._show_frame(frame)
            self._say(f"{len(frame)} rows × {frame.shape[1]} columns")
            if self.on_result is not None:
                try:
                    self.on_result(frame)
                except Exception as exc:
                    log.exception("on_result callback failed")
                    self._say(f"on_result failed: {type(exc).__name__}: {exc}", error=True)
        finally:
            with self._lock:
                self.run_button.disabled = False
                self.cancel_button.disabled = True

    # -- showing ---------------------------------------------------------------------------
    def _say(self, text: str, *, error: bool = False) -> None:
        style = f' style="{_ERROR_STYLE}"' if error else ""
        with self._lock:
            self.message.value = (
                f"<span{style}>{html.escape(text, quote=False)}</span>" if text else ""
            )

    def _show_frame(self, frame: pd.DataFrame) -> None:
        data, metadata = _mime_bundle(frame)
        with self._lock:
            self.output.outputs = (
                {"output_type": "display_data", "data": data, "metadata": metadata},
            )

    def close(self) -> None:
        """Close the widgets and the client the picker created."""
        self.widget.close()
        if self._owns_client and self._client is not None:
            self._client.close()

    def _repr_mimebundle_(self, **kwargs: Any):
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return f"<QueryPicker query {self.query_id} ({self.query_url})>"


def _mime_bundle(obj: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The display bundle of ``obj`` (IPython's formatter when a shell runs, else repr/HTML)."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is not None:
        return shell.display_formatter.format(obj)
    data = {"text/plain": repr(obj)}
    to_html = getattr(obj, "_repr_html_", None)
    rendered = to_html() if callable(to_html) else None
    if rendered:
        data["text/html"] = rendered
    return data, {}


def picker(
    query_id: int,
    *,
    url: str | None = None,
    api_key: str | None = None,
    profile: str | None = None,
    client: WatchClient | None = None,
    params: Mapping[str, Any] | None = None,
    on_result: Callable[[pd.DataFrame], Any] | None = None,
    max_age: int | None = None,
    timeout: float | None = None,
    dtype_backend: str = "numpy_nullable",
    offline: bool | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> QueryPicker:
    """A parameter picker for saved query ``query_id`` (display it; press Run).

    Controls come from the query's parameter definitions, prefilled with ``params`` or the
    saved defaults (dynamic dates resolved). ``on_result(df)`` runs after each read; the
    latest frame is ``.df``. Needs ipywidgets (``pip install 'watch-pandas[jupyter]'``).
    ``offline=True`` (or ``$WATCH_OFFLINE=1``) never touches the network: the form comes from
    the query as last read online and kept in the local cache (``cache_dir``, as in
    :func:`~watch_pandas.read_watch_query`), and Run serves only from that cache.
    """
    return QueryPicker(
        query_id,
        url=url,
        api_key=api_key,
        profile=profile,
        client=client,
        params=params,
        on_result=on_result,
        max_age=max_age,
        timeout=timeout,
        dtype_backend=dtype_backend,
        offline=offline,
        cache_dir=cache_dir,
    )
