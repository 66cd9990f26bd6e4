"""Download progress over real HTTP: the server holds the result's first byte back (a hang
fault), then sends it; both phases reach the terminal line and the notebook widget."""

from __future__ import annotations

import io

import pytest
import requests

from watch_pandas import read_watch_query
from watch_pandas._progress import ProgressEvent, TextProgress


def _read_with_slow_result(lw, listeners, **options):
    lw.faults.hang_next(1, seconds=0.8, path="/api/query_results/*", method="GET")
    return read_watch_query(
        lw.demo.queries["prices"],
        url=lw.url,
        api_key=lw.admin_key,
        max_age=0,
        cache=False,
        progress=listeners,
        **options,
    )


def test_both_download_phases_over_http(lw):
    events: list[ProgressEvent] = []
    frame = _read_with_slow_result(lw, [events.append])
    phases = [e.phase for e in events if e.phase is not None]
    assert phases[0] == "preparing"
    assert "receiving" in phases and phases.index("receiving") > 0
    assert phases[phases.index("receiving") :] == ["receiving"] * phases.count("receiving")
    preparing = [e for e in events if e.phase == "preparing"]
    assert all(e.message == "server preparing result" for e in preparing)
    assert [e.elapsed for e in preparing] == sorted(e.elapsed for e in preparing)
    last = [e for e in events if e.phase == "receiving"][-1]
    raw = requests.get(
        f"{lw.url}/api/query_results/{frame.attrs['watch']['result_id']}.json",
        headers={"Authorization": f"Key {lw.admin_key}"},
        timeout=30,
    )
    assert last.bytes_total == int(raw.headers["Content-Length"]) == len(raw.content)
    assert last.bytes_received == last.bytes_total
    assert last.rows == len(frame)
    assert events[-1].state == "done"


def test_the_terminal_line_shows_both_phases_without_the_key(lw):
    stream = io.StringIO()
    _read_with_slow_result(lw, [TextProgress(stream, force=True, width=200)])
    text = stream.getvalue()
    assert "server preparing result" in text
    # the size received and the rows; a rate only when measurable (never "0 B/s")
    assert " kB" in text and " rows" in text and " 0 B/s" not in text
    assert lw.admin_key not in text


def test_the_widget_shows_both_phases(lw):
    pytest.importorskip("ipywidgets")
    from watch_pandas._progress_widget import ProgressDisplay

    display = ProgressDisplay()
    seen: list[str] = []

    def both(event: ProgressEvent) -> None:
        display(event)
        seen.append(display.widget.value)

    _read_with_slow_result(lw, [both])
    assert any("server preparing result" in value for value in seen)
    assert any(" rows" in value and " kB" in value for value in seen)
    assert not any(lw.admin_key in value for value in seen)


def test_arrow_reads_report_progress_too(lw):
    events: list[ProgressEvent] = []
    _read_with_slow_result(lw, [events.append], output="arrow")
    assert {"preparing", "receiving"} <= {e.phase for e in events}
