"""The inline job progress line in a notebook: one ipywidgets ``HTML`` line per read.

ipywidgets is optional (``pip install 'watch-pandas[jupyter]'``) and imported only when a
widget is drawn, so this module imports without it. Choosing the listener and wording an event
belong to :mod:`watch_pandas._progress` (which imports this module lazily, inside a kernel);
this module draws. Public through :mod:`watch_pandas.widgets`.
"""

from __future__ import annotations

import html
import math
import threading
import time
from typing import Any

from ._progress import (
    SHORT_JOB,
    TICK,
    ProgressEvent,
    ProgressListener,
    default_listener,
    kernel_shell,
    progress_text,
)

__all__ = ["auto_progress", "widget_frontend_available", "ProgressDisplay", "INSTALL_HINT"]

INSTALL_HINT = "The widgets need ipywidgets: pip install 'watch-pandas[jupyter]'."

_STATE_COLOURS = {
    "queued": "#777",
    "running": "#1565c0",
    "downloading": "#1565c0",
    "done": "#2e7d32",
    "failed": "#c62828",
    "cancelled": "#ef6c00",
}


def _ipywidgets():
    """Import ipywidgets, or raise ImportError saying how to install it."""
    try:
        import ipywidgets
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    return ipywidgets


def widget_frontend_available() -> bool:
    """True inside an IPython kernel (a notebook front end) with ipywidgets importable."""
    if kernel_shell() is None:
        return False
    try:
        _ipywidgets()
    except ImportError:
        return False
    return True


def auto_progress(force: bool = False) -> ProgressListener:
    """The default progress listener: a widget in a notebook, else a text line on stderr.

    In a kernel without ipywidgets the text line is drawn in the cell's stderr; in a terminal
    only when stderr is a TTY, unless ``force``
    (:func:`watch_pandas._progress.default_listener`).
    """
    return default_listener(force=force)


class ProgressDisplay:
    """A progress listener drawn as one ipywidgets ``HTML`` line (state, elapsed, job id).

    ``states`` keeps every state seen, in order. With ``display_on_first_event`` the widget
    displays itself in the current cell output when the first event arrives (so a cached
    read that never emits shows nothing), and when the read ends the widget gives way to its
    last line as plain text (and HTML): a saved notebook then shows that line wherever widgets
    are not drawn, not ``HTML(value='')``. Safe to call from a worker thread. Ticks (the
    elapsed time moving on while nothing else changes) redraw the line at most every ``TICK``
    seconds and are not counted in ``states``.
    """

    def __init__(self, *, display_on_first_event: bool = False) -> None:
        self._widgets = _ipywidgets()
        self.widget = self._widgets.HTML(value="")
        self.states: list[str] = []
        self.last_event: ProgressEvent | None = None
        self._display_pending = display_on_first_event
        self._handle: Any = None  # the cell output this listener displayed itself in
        self._as_text = False  # that output shows the final line, not the widget
        self._lock = threading.Lock()
        self._drawn_at = -math.inf

    def __call__(self, event: ProgressEvent) -> None:
        with self._lock:
            self.states.append(event.state)
            self.last_event = event
            self._draw(event)

    def on_tick(self, event: ProgressEvent) -> None:
        """Redraw ``event`` (its elapsed time moved on) unless the line changed just now."""
        with self._lock:
            if (
                self.last_event is not None
                and not self._as_text
                and time.monotonic() - self._drawn_at >= TICK * 0.8
            ):
                self._draw(event)

    def _draw(self, event: ProgressEvent) -> None:
        self._drawn_at = time.monotonic()
        colour = _STATE_COLOURS.get(event.state, "inherit")
        # the whole job id stays one hover away (and in the page, for copying)
        title = f"job {event.job_id}" if event.job_id else ""
        text = f"watch: {progress_text(event, job_chars=SHORT_JOB)}"
        line = (
            f'<span style="color:{colour};font-family:monospace" '
            f'title="{html.escape(title)}">{html.escape(text, quote=False)}</span>'
        )
        if self._as_text and not event.finished:
            # another job of the same read (a dashboard's widgets): the widget again
            self.widget = self._widgets.HTML(value="")
            self._as_text = False
            self._show(self._widget_bundle(text), update=True)
        self.widget.value = line
        if self._display_pending:
            self._display_pending = False
            self._handle = self._show(self._widget_bundle(text), update=False)
        if event.finished and self._handle is not None:
            self._show({"text/plain": text, "text/html": line}, update=True)
            self._as_text = True
            self.widget.close()  # its comm is not needed once the line is text

    def _widget_bundle(self, text: str) -> dict[str, Any]:
        """The widget's display bundle, its text form the progress line itself (what a saved
        notebook shows where the widget is not drawn) rather than the widget's repr."""
        bundle = self.widget._repr_mimebundle_()
        data = dict(bundle[0] if isinstance(bundle, tuple) else bundle)
        data["text/plain"] = text
        return data

    def _show(self, bundle: dict[str, Any], *, update: bool) -> Any:
        from IPython.display import display

        if update:
            if self._handle is not None:
                self._handle.update(bundle, raw=True)
            return self._handle
        return display(bundle, raw=True, display_id=True)

    def clear(self) -> None:
        """Forget the states seen and blank the line (before a new run)."""
        with self._lock:
            self.states.clear()
            self.last_event = None
            self.widget.value = ""

    def _repr_mimebundle_(self, **kwargs: Any):
        return self.widget._repr_mimebundle_(**kwargs)
