"""The terminal progress line: fitted to the terminal's width (so ``\\r`` rewrites one row),
no rate before it can be measured, and an elapsed time that keeps moving while a job runs
(a ticker thread that ends on every path: done, failed, cancelled, Ctrl-C, exception)."""

from __future__ import annotations

import io
import os
import signal
import sys
import threading
import unicodedata
from pathlib import Path

import pytest

from watch_pandas import (
    WatchTimeoutError,
    date_ranges,
    read_watch_query,
    read_watch_sweep,
    run_sql,
)
from watch_pandas._progress import (
    TICKER_THREAD,
    ProgressEvent,
    TextProgress,
    Ticker,
    display_width,
    progress_text,
)
from watch_pandas.testing import LocalWatch

JOB = "ee967f5e-a497-4086-8058-e53dc0c491ed"

# What a fresh read of query 6 drew on an 80-column terminal (the trial's line was ~110 wide).
READ = [
    ProgressEvent("queued", 0.0, query_id=6, message="submitting"),
    ProgressEvent("queued", 0.1, query_id=6, job_id=JOB),
    ProgressEvent("running", 0.5, query_id=6, job_id=JOB),
    ProgressEvent("downloading", 0.9, query_id=6, job_id=JOB, message="result 61"),
    ProgressEvent("downloading", 1.0, 6, JOB, "server preparing result", phase="preparing"),
    ProgressEvent(
        "downloading",
        1.4,
        query_id=6,
        job_id=JOB,
        phase="receiving",
        bytes_received=96_000_000,
        bytes_total=188_400_000,
        rate=38_400_000.0,
        eta=2.4,
        rows=600_000,
    ),
    ProgressEvent("done", 4.6, query_id=6, job_id=JOB, source="fresh run"),
]


def screen(text: str, columns: int) -> list[str]:
    """The rows a terminal of ``columns`` shows after ``text`` (auto-wrap at the margin)."""
    rows, col = [""], 0
    for ch in text:
        if ch == "\r":
            col = 0
        elif ch == "\n":
            rows.append("")
            col = 0
        else:
            if col >= columns:
                rows.append("")
                col = 0
            row = rows[-1].ljust(col)
            rows[-1] = row[:col] + ch + row[col + 1 :]
            col += 1
    return rows


class NarrowTerminal(io.StringIO):
    """A fake terminal stream: a TTY without a file descriptor (its width comes from
    ``shutil.get_terminal_size``, i.e. ``COLUMNS``)."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("columns", [80, 50, 24])
def test_every_update_rewrites_one_row_of_a_narrow_terminal(monkeypatch, columns):
    monkeypatch.setenv("COLUMNS", str(columns))
    stream = NarrowTerminal()
    line = TextProgress(stream)
    for event in READ:
        line(event)
    rows = screen(stream.getvalue(), columns)
    assert len(rows) == 2 and rows[1] == ""  # one line, ended by the final newline
    assert rows[0].startswith("watch: done")
    for drawn in stream.getvalue().replace("\n", "\r").split("\r"):
        assert display_width(drawn) < columns  # the last column stays free


def test_a_real_pseudo_terminal_is_measured(monkeypatch):
    pty = pytest.importorskip("pty")
    import fcntl
    import struct
    import termios

    monkeypatch.delenv("COLUMNS", raising=False)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 40, 0, 0))
    with os.fdopen(slave, "w", encoding="utf-8") as stream:
        line = TextProgress(stream)
        for event in READ:
            line(event)
    out = b""
    while True:  # until the closed slave's data is all read: Linux then raises EIO
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    rows = screen(out.decode("utf-8"), 40)
    assert [row for row in rows if row.strip()] == [rows[0]]
    assert rows[0].startswith("watch: done")


def test_the_full_job_id_goes_first_then_the_least_useful_parts():
    event = READ[5]
    full = progress_text(event)
    assert JOB in full  # no width: everything (a log, a callback)
    short = progress_text(event, width=len(full) - 1)
    assert "job ee967f5e…" in short and JOB not in short
    assert "38.4 MB/s" in short
    narrow = progress_text(event, width=60)
    assert "job" not in narrow and "downloading · 1.4 s" in narrow
    assert "96.0 of 188.4 MB" in narrow  # how far it is: kept longest
    for width in range(8, len(full) + 2):
        assert display_width(progress_text(event, width=width)) <= width


def test_a_failure_message_is_one_line_and_cut_to_the_width():
    event = ProgressEvent("failed", 2.0, 6, JOB, "syntax error at or near\n  SELEC\n^" * 5)
    text = progress_text(event, width=50)
    assert "\n" not in text and display_width(text) <= 50 and text.endswith("…")
    assert text.startswith("failed · 2.0 s")


def test_wide_characters_count_as_two_columns():
    event = ProgressEvent("failed", 2.0, message="列が見つかりません" * 6)
    text = progress_text(event, width=40)
    assert display_width(text) <= 40
    assert display_width("列") == 2 == len("列") + 1 == 2 * len(unicodedata.normalize("NFC", "列"))


# -- the rate ------------------------------------------------------------------------------
def test_no_rate_of_zero_is_ever_drawn():
    first = ProgressEvent(
        "downloading", 0.3, phase="receiving", bytes_received=1_000_000, bytes_total=188_400_000
    )
    assert progress_text(first) == "downloading · 0.3 s · 1.0 of 188.4 MB"
    zero = ProgressEvent(
        "downloading", 0.3, phase="receiving", bytes_received=10, bytes_total=20, rate=0.0
    )
    assert "B/s" not in progress_text(zero)


def test_a_finished_download_shows_its_total():
    done = ProgressEvent(
        "downloading", 0.6, phase="receiving", bytes_received=8_400, bytes_total=8_400, rows=62
    )
    assert progress_text(done) == "downloading · 0.6 s · 8.4 kB · 62 rows"


# -- the ticker ----------------------------------------------------------------------------
class Drawn:
    """A display listener: records events and ticks; ``on_tick`` runs ``then`` once."""

    def __init__(self, then=None) -> None:
        self.events: list[ProgressEvent] = []
        self.ticks: list[ProgressEvent] = []
        self.seen: list[tuple[str, ProgressEvent]] = []  # both, in the order drawn
        self.then = then
        self.ticker_seen = False

    def __call__(self, event: ProgressEvent) -> None:
        self.events.append(event)
        self.seen.append(("event", event))
        self.ticker_seen = self.ticker_seen or _tickers() > 0

    def on_tick(self, event: ProgressEvent) -> None:
        self.ticks.append(event)
        self.seen.append(("tick", event))
        if self.then is not None:
            then, self.then = self.then, None
            then()


def _tickers() -> int:
    return sum(1 for t in threading.enumerate() if t.name == TICKER_THREAD)


class Clock:
    now = 10.0

    def __call__(self) -> float:
        return self.now


def test_a_tick_repeats_the_last_event_with_the_time_moved_on():
    clock, drawn, plain = Clock(), Drawn(), []
    with Ticker([drawn, plain.append], clock=clock, thread=False) as ticker:
        ticker(ProgressEvent("downloading", 2.0, 6, JOB, phase="receiving", eta=3.0))
        clock.now += 1.5
        ticker.tick()
        ticker(ProgressEvent("done", 4.0, 6, JOB))
        clock.now += 1.0
        ticker.tick()  # nothing after the end
    assert [(t.state, t.elapsed, t.eta) for t in drawn.ticks] == [("downloading", 3.5, 1.5)]
    assert [e.state for e in plain] == ["downloading", "done"]  # callbacks get no ticks
    assert [e.state for e in drawn.events] == ["downloading", "done"]


def test_no_ticker_thread_without_a_display():
    with Ticker([print], clock=Clock()) as ticker:
        ticker(ProgressEvent("running", 1.0))
        assert _tickers() == 0


@pytest.fixture
def lw():
    with LocalWatch(demo=True) as lw:
        yield lw
        lw.release_jobs()


def _read(lw, listener, **options):
    return read_watch_query(
        lw.demo.queries["prices"],
        url=lw.url,
        api_key=lw.admin_key,
        max_age=0,
        cache=False,
        progress=[listener],
        **options,
    )


def test_the_elapsed_time_moves_while_a_job_waits_and_the_ticker_ends(lw):
    lw.hold_jobs()  # the job stays queued until a tick was drawn
    drawn = Drawn(then=lw.release_jobs)
    frame = _read(lw, drawn, timeout=60)
    assert len(frame) and drawn.ticker_seen
    assert drawn.ticks and drawn.ticks[0].job_id is not None
    first = next(i for i, (kind, _) in enumerate(drawn.seen) if kind == "tick")
    before, tick = drawn.seen[first - 1][1], drawn.seen[first][1]
    assert tick.state == before.state == "queued" and tick.elapsed > before.elapsed
    assert drawn.events[-1].state == "done"
    assert _tickers() == 0


def _interrupting(event: ProgressEvent) -> None:
    if event.state == "running" or (event.state == "queued" and event.job_id):
        raise KeyboardInterrupt


@pytest.mark.parametrize("ending", ["failed", "cancelled", "ctrl-c", "exception"])
def test_the_ticker_ends_on_every_path(lw, monkeypatch, ending):
    drawn = Drawn()
    if ending == "failed":
        with pytest.raises(Exception, match="no such table"):
            run_sql(
                "SELECT * FROM nowhere",
                data_source=lw.demo.data_sources["typed"],
                url=lw.url,
                api_key=lw.admin_key,
                max_age=0,
                cache=False,
                progress=[drawn],
            )
    elif ending == "cancelled":
        lw.hold_jobs()
        with pytest.raises(WatchTimeoutError):
            _read(lw, drawn, timeout=1.0)
    elif ending == "ctrl-c":
        lw.hold_jobs()

        class Interrupting(Drawn):
            def __call__(self, event: ProgressEvent) -> None:
                super().__call__(event)
                _interrupting(event)

        drawn = Interrupting()
        with pytest.raises(KeyboardInterrupt):
            _read(lw, drawn, timeout=60)
    else:
        from watch_pandas import _read as read_module

        def broken(*args, **kwargs):
            raise RuntimeError("decoder bug")

        monkeypatch.setattr(read_module, "_decode", broken)
        with pytest.raises(RuntimeError, match="decoder bug"):
            _read(lw, drawn, timeout=60)
    assert drawn.ticker_seen
    assert drawn.events[-1].state in ("failed", "cancelled")
    assert _tickers() == 0


def _sweep(lw, listener):
    return read_watch_sweep(
        lw.demo.queries["price_history"],
        {"period": date_ranges("2024-03-01", "2024-04-30", "MS")},
        url=lw.url,
        api_key=lw.admin_key,
        max_age=0,
        progress=[listener],
        timeout=30,
    )


def test_a_sweep_ticks_between_parts_and_its_ticker_ends(lw):
    lw.hold_jobs()
    drawn = Drawn(then=lw.release_jobs)
    frame = _sweep(lw, drawn)
    assert len(frame) and drawn.ticker_seen
    assert drawn.ticks and drawn.ticks[0].parts_total == 2
    assert drawn.ticks[0].elapsed > drawn.events[0].elapsed
    assert drawn.events[-1].state == "done"
    assert _tickers() == 0


@pytest.mark.skipif(sys.platform == "win32", reason="signals")
def test_a_sweep_cut_by_ctrl_c_ends_its_ticker(lw):
    lw.hold_jobs()
    main = threading.main_thread().ident
    drawn = Drawn(then=lambda: signal.pthread_kill(main, signal.SIGINT))
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            _sweep(lw, drawn)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert drawn.ticks and drawn.events[-1].state == "cancelled"
    assert _tickers() == 0


# -- the docs show the line the code draws ---------------------------------------------------
DOC_JOB = "8c2f41d7-3b0e-4f5a-9d61-2a7c5e90b1f4"
DOC_EVENTS = {
    "running": ProgressEvent("running", 3.5, query_id=42, job_id=DOC_JOB),
    "preparing": ProgressEvent(
        "downloading", 6.5, 42, DOC_JOB, "server preparing result", phase="preparing"
    ),
    "receiving": ProgressEvent(
        "downloading",
        9.0,
        query_id=42,
        job_id=DOC_JOB,
        phase="receiving",
        bytes_received=96_000_000,
        bytes_total=160_000_000,
        rate=38_400_000.0,
        eta=1.7,
        rows=600_000,
    ),
    "done": ProgressEvent("done", 11.2, query_id=42, job_id=DOC_JOB, source="fresh run"),
    "sweep": ProgressEvent(
        "running", 12.3, query_id=42, parts_done=9, parts_total=24, rows=48_210, eta=19.6
    ),
    "sweep done": ProgressEvent(
        "done", 31.0, query_id=42, parts_done=24, parts_total=24, rows=130_442
    ),
}
DOC_EXAMPLES = {
    "sweeps.md": ["sweep", "sweep done"],
    "jupyter.md": ["running", "preparing", "receiving", "done"],
    "guide.md": ["preparing", "receiving"],
}
MARK = "<!-- progress example: tests/test_progress_line.py checks it against the code -->"


@pytest.mark.parametrize("page", sorted(DOC_EXAMPLES))
def test_the_docs_show_the_line_an_80_column_terminal_shows(page, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    text = (Path(__file__).resolve().parents[1] / "docs" / page).read_text(encoding="utf-8")
    assert text.count(MARK) == 1, f"docs/{page} has no progress example"
    block = text.split(MARK, 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    stream = NarrowTerminal()
    line = TextProgress(stream)
    drawn = []
    for name in DOC_EXAMPLES[page]:
        start = len(stream.getvalue())
        line(DOC_EVENTS[name])
        drawn.append(stream.getvalue()[start:].strip("\r\n").rstrip())
    assert block.splitlines() == drawn


def test_the_widget_redraws_a_tick_without_counting_it_as_a_state():
    pytest.importorskip("ipywidgets")
    from watch_pandas._progress_widget import ProgressDisplay

    clock, display = Clock(), ProgressDisplay()
    with Ticker([display], clock=clock, thread=False) as ticker:
        ticker(ProgressEvent("running", 1.0, 6, JOB))
        display._drawn_at -= 1.0  # the last draw was a while ago
        clock.now += 2.0
        ticker.tick()
    assert display.states == ["running"]
    assert "running · 3.0 s · query 6 · job ee967f5e…" in display.widget.value
