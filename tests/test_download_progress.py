"""Download progress: "server preparing result", then bytes of Content-Length, rate, estimate
and rows decoded; throttled to a few events a second (counted with a fake clock)."""

from __future__ import annotations

import json

import pytest
import responses
from _samples import sample_body
from responses import matchers

from watch_pandas import read_watch_query
from watch_pandas._client import WatchClient
from watch_pandas._download import DownloadMeter
from watch_pandas._progress import ProgressEvent, progress_text

URL = "https://watch.test"
KEY = "USERKEY0123456789abcdefghijklmnopqrstuv"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeBody:
    """A result body's chunks, with the response's Content-Length when it was sent."""

    def __init__(self, chunks: list[bytes], clock: FakeClock, step: float, length: bool) -> None:
        self.chunks = chunks
        self.clock = clock
        self.step = step
        self.content_length = sum(map(len, chunks)) if length else None
        self.closed = False

    def __iter__(self):
        for chunk in self.chunks:
            self.clock.now += self.step
            yield chunk

    def close(self) -> None:
        self.closed = True


def _meter(clock: FakeClock) -> tuple[DownloadMeter, list[dict]]:
    events: list[dict] = []
    meter = DownloadMeter(lambda **fields: events.append(fields), clock=clock, heartbeat=None)
    return meter, events


def test_preparing_then_receiving_with_total_rate_and_estimate() -> None:
    clock = FakeClock()
    meter, events = _meter(clock)
    with meter.preparing():
        clock.now += 3.0  # the server serialises the whole body before the first byte
        body = FakeBody([b"x" * 1000] * 1000, clock, step=0.01, length=True)
        assert b"".join(meter.metered(body)) == b"x" * 1_000_000
    assert events[0]["phase"] == "preparing"
    assert events[0]["message"] == "server preparing result"
    receiving = [e for e in events if e["phase"] == "receiving"]
    assert receiving[-1]["bytes_received"] == receiving[-1]["bytes_total"] == 1_000_000
    # after the first chunk, 999 kB in 9.99 s of the fake clock (preparing is not download)
    assert receiving[-1]["rate"] == pytest.approx(100_000)
    middle = next(e for e in receiving if e["bytes_received"] >= 500_000)
    left = (1_000_000 - middle["bytes_received"]) / middle["rate"]
    assert middle["eta"] == pytest.approx(left)


def test_at_most_four_events_a_second() -> None:
    clock = FakeClock()
    meter, events = _meter(clock)
    with meter.preparing():
        body = FakeBody([b"x" * 100] * 1000, clock, step=0.01, length=True)  # 10 s, 1000 chunks
        for _ in meter.metered(body):
            meter.rows(7)
    receiving = [e for e in events if e["phase"] == "receiving"]
    assert 10 * 4 - 5 <= len(receiving) <= 10 * 4 + 2  # not one per chunk or per batch of rows
    assert receiving[-1]["bytes_received"] == 100_000  # the last is always told


def test_rows_decoded_are_reported() -> None:
    clock = FakeClock()
    meter, events = _meter(clock)
    with meter.preparing():
        body = FakeBody([b"x" * 10] * 10, clock, step=1.0, length=False)
        for i, _ in enumerate(meter.metered(body), start=1):
            meter.rows(i * 5)
    assert events[-1]["rows"] == 50


def test_without_content_length_bytes_and_rate_but_no_estimate() -> None:
    clock = FakeClock()
    meter, events = _meter(clock)
    with meter.preparing():
        body = FakeBody([b"x" * 10] * 10, clock, step=1.0, length=False)
        list(meter.metered(body))
    last = events[-1]
    assert last["bytes_received"] == 100 and last["bytes_total"] is None
    assert last["rate"] == pytest.approx(10.0) and last["eta"] is None


def test_the_heartbeat_stops_when_the_first_byte_arrives() -> None:
    events: list[dict] = []
    meter = DownloadMeter(lambda **fields: events.append(fields), heartbeat=0.001)
    clock_body = FakeBody([b"{}"], FakeClock(), step=0.0, length=True)
    with meter.preparing():
        chunks = list(meter.metered(clock_body))
        after = len(events)
    assert chunks == [b"{}"]
    assert len(events) == after  # nothing from the heartbeat once bytes flow
    assert not meter.heartbeat_alive


def test_text_line_words_both_phases() -> None:
    preparing = ProgressEvent(
        "downloading", 2.5, query_id=4, phase="preparing", message="server preparing result"
    )
    assert progress_text(preparing) == "downloading · 2.5 s · query 4 · server preparing result"
    receiving = ProgressEvent(
        "downloading",
        7.0,
        phase="receiving",
        bytes_received=3_500_000,
        bytes_total=10_000_000,
        rate=1_000_000.0,
        eta=6.5,
        rows=120_000,
    )
    assert progress_text(receiving) == (
        "downloading · 7.0 s · 3.5 of 10.0 MB · 1.0 MB/s · ~7 s left · 120,000 rows"
    )
    unknown = ProgressEvent("downloading", 1.0, phase="receiving", bytes_received=2048, rate=1024.0)
    assert progress_text(unknown) == "downloading · 1.0 s · 2.0 kB · 1.0 kB/s"


def test_old_style_events_still_construct() -> None:
    event = ProgressEvent("running", 1.0, 3, "job", "msg", None)
    assert event.bytes_received is None and event.phase is None


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


def test_a_job_result_download_reports_both_phases(mocked) -> None:
    mocked.get(
        f"{URL}/api/queries/1",
        json=sample_body("35-dashboard-by-id")["widgets"][0]["visualization"]["query"],
    )
    mocked.post(
        f"{URL}/api/queries/1/results",
        json=sample_body("08-results-post-max-age-0"),
        match=[matchers.json_params_matcher({"max_age": 0}, strict_match=False)],
    )
    job_id = sample_body("08-results-post-max-age-0")["job"]["id"]
    mocked.get(f"{URL}/api/jobs/{job_id}", json=sample_body("10-job-finished"))
    body = json.dumps(sample_body("30-untyped-sqlite-json")).encode()
    mocked.get(
        f"{URL}/api/query_results/60.json",
        body=body,
        headers={"Content-Length": str(len(body))},
        content_type="application/json",
    )
    events: list[ProgressEvent] = []
    with WatchClient(URL, KEY, retries=0) as client:
        frame = read_watch_query(1, max_age=0, progress=events.append, client=client, cache=False)
    phases = [e.phase for e in events if e.phase is not None]
    assert phases[0] == "preparing" and phases[-1] == "receiving"
    last = [e for e in events if e.phase == "receiving"][-1]
    assert last.bytes_received == last.bytes_total == len(body)
    assert last.rows == len(frame)
    assert KEY not in " ".join(progress_text(e) for e in events)


class CreepingClock(FakeClock):
    """A real clock's habit: every reading is a little later than the one before."""

    def __call__(self) -> float:
        self.now += 1e-6
        return self.now


def test_no_rate_before_it_can_be_measured_nor_for_a_body_in_one_chunk() -> None:
    clock = CreepingClock()
    meter, events = _meter(clock)
    with meter.preparing():
        list(meter.metered(FakeBody([b"x" * 8400], clock, step=0.0, length=True)))
    receiving = [e for e in events if e["phase"] == "receiving"]
    assert receiving and all(e["rate"] is None for e in receiving)  # was 0.0: "0 B/s"
    assert receiving[-1]["eta"] is None

    meter, events = _meter(clock)
    with meter.preparing():
        body = FakeBody([b"x" * 1000] * 50, clock, step=0.01, length=True)  # 0.5 s
        list(meter.metered(body))
    receiving = [e for e in events if e["phase"] == "receiving"]
    assert receiving[0]["rate"] is None  # the first chunk: nothing to measure yet
    assert receiving[-1]["rate"] == pytest.approx(49_000 / 0.49, rel=0.01)  # the average
    assert receiving[-1]["eta"] is None  # finished: no time left to estimate
