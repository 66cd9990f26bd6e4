"""Execution: every job state, the deadline, Ctrl-C, adaptive polling and progress events."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import pytest
import responses
from _samples import sample_body

from watch_pandas._execution import Execution, PollSchedule, cancel_once
from watch_pandas.errors import (
    ForbiddenError,
    QueryCancelledError,
    QueryFailedError,
    ServerError,
    TransportError,
    WatchTimeoutError,
)
from watch_pandas.models import Job, JobStatus


def job(status: int, error: str = "", result: int | None = None, job_id: str = "j-1") -> Job:
    return Job.from_json(
        {"id": job_id, "status": status, "error": error, "query_result_id": result, "updated_at": 0}
    )


@dataclass
class Response:
    job: Job | None = None
    body: bytes | None = None


@dataclass
class FakeClock:
    now: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class FakeClient:
    """Serves a scripted sequence of job states; records polls and cancels."""

    def __init__(self, states: list[Job], *, cancel_raises: Exception | None = None) -> None:
        self.states = list(states)
        self.polls: list[tuple[str, int | None]] = []
        self.cancelled: list[str] = []
        self.cancel_raises = cancel_raises

    def get_job(self, job_id: str, *, query_id: int | None = None) -> Job:
        self.polls.append((job_id, query_id))
        if len(self.states) > 1:
            return self.states.pop(0)
        return self.states[0]

    def cancel_job(self, job_id: str) -> None:
        if self.cancel_raises is not None:
            raise self.cancel_raises
        self.cancelled.append(job_id)


def make(client, clock: FakeClock, *, timeout: float | None = None, events=None) -> Execution:
    listeners = [events.append] if events is not None else []
    return Execution(
        client,
        query_id=7,
        query_url="http://watch.test/queries/7",
        timeout=timeout,
        listeners=listeners,
        clock=clock,
        sleep=clock.sleep,
    )


def test_inline_result_is_returned_without_polling():
    client, clock = FakeClient([]), FakeClock()
    outcome = make(client, clock).run(lambda: Response(body=b'{"query_result": {}}'))
    assert outcome.body == b'{"query_result": {}}'
    assert not outcome.fresh
    assert client.polls == []


def test_job_is_polled_through_every_waiting_state_until_finished():
    states = [job(2), job(6), job(7), job(2), job(3, result=42)]
    client, clock, events = FakeClient(states), FakeClock(), []
    outcome = make(client, clock, events=events).run(lambda: Response(job=job(1)))
    assert outcome.result_id == 42 and outcome.job_id == "j-1" and outcome.fresh
    assert [p for p in client.polls] == [("j-1", 7)] * 5
    assert [e.state for e in events] == [
        "queued",  # submitting
        "queued",  # status 1
        "running",
        "queued",  # 6 deferred counts as waiting
        "queued",  # 7 scheduled counts as waiting
        "running",
    ]
    assert all(e.job_id == "j-1" for e in events[1:])
    assert events[-1].elapsed > 0


def test_poll_intervals_start_fast_and_grow_to_a_cap():
    client, clock = FakeClient([job(1)] * 12 + [job(3, result=1)]), FakeClock()
    make(client, clock).run(lambda: Response(job=job(1)))
    assert clock.sleeps[0] == pytest.approx(0.1)
    assert clock.sleeps == sorted(clock.sleeps)
    assert max(clock.sleeps) == pytest.approx(PollSchedule().maximum)


def test_failed_job_raises_with_the_database_message_and_the_query_link():
    failed = job(4, error='near "SELEC": syntax error')
    client, clock, events = FakeClient([failed]), FakeClock(), []
    with pytest.raises(QueryFailedError) as info:
        make(client, clock, events=events).run(lambda: Response(job=job(1)))
    assert info.value.server_message == 'near "SELEC": syntax error'
    assert 'near "SELEC": syntax error' in str(info.value)
    assert "http://watch.test/queries/7" in str(info.value)
    assert events[-1].state == "failed"


def test_failed_job_without_a_reason_still_raises():
    client, clock = FakeClient([job(4, error="")]), FakeClock()
    with pytest.raises(QueryFailedError, match="gave no reason"):
        make(client, clock).run(lambda: Response(job=job(1)))


@pytest.mark.parametrize(
    "cancelled",
    [job(4, error="Query cancelled by user."), job(4, error="Query execution cancelled."), job(5)],
    ids=["v9+", "v8", "status-5"],
)
def test_cancelled_job_raises_cancelled_not_success(cancelled):
    client, clock = FakeClient([cancelled]), FakeClock()
    with pytest.raises(QueryCancelledError):
        make(client, clock).run(lambda: Response(job=job(1)))
    assert client.cancelled == []  # someone else cancelled it; we do not cancel again


@pytest.mark.parametrize(
    ("cancelled", "says"),
    [
        (job(4, error="Query cancelled by user."), ": Query cancelled by user. Run it again"),
        (job(5), ": the server gave no reason. Run it again"),
        (job(5, error="stopped by admin"), ": stopped by admin. Run it again"),
    ],
)
def test_cancelled_message_is_sentences(cancelled, says):
    client, clock = FakeClient([cancelled]), FakeClock()
    with pytest.raises(QueryCancelledError) as info:
        make(client, clock).run(lambda: Response(job=job(1)))
    assert says in str(info.value)


def test_finished_without_result_id_is_an_error_not_success():
    client, clock = FakeClient([Job(id="j-1", status=JobStatus.FINISHED)]), FakeClock()
    with pytest.raises(QueryFailedError, match="without a result id"):
        make(client, clock).run(lambda: Response(job=job(1)))


def test_deadline_cancels_the_job_then_raises_timeout():
    client, clock, events = FakeClient([job(1)]), FakeClock(), []
    with pytest.raises(WatchTimeoutError) as info:
        make(client, clock, timeout=3, events=events).run(lambda: Response(job=job(1)))
    assert client.cancelled == ["j-1"]
    assert "cancelled on the server" in str(info.value)
    assert clock.now == pytest.approx(3)  # never sleeps past the deadline
    assert events[-1].state == "cancelled"


def test_deadline_with_a_key_that_cannot_cancel_says_so():
    forbidden = ForbiddenError("cancelling needs a user API key")
    client, clock = FakeClient([job(2)], cancel_raises=forbidden), FakeClock()
    with pytest.raises(WatchTimeoutError) as info:
        make(client, clock, timeout=1).run(lambda: Response(job=job(1)))
    message = str(info.value)
    assert "job j-1 could not be cancelled" in message
    assert "was could" not in message
    assert "cancelling needs a user API key" in message  # why it could not


FORBIDDEN = "cancelling needs a user API key"


def _warnings_about_the_cancel(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and FORBIDDEN in r.getMessage()
    ]


def test_a_cancel_that_fails_at_the_deadline_is_said_once_in_the_error(caplog):
    """Not a warning on stderr and the same text in the exception: the error says it."""
    client = FakeClient([job(2)], cancel_raises=ForbiddenError(FORBIDDEN))
    with caplog.at_level(logging.DEBUG, logger="watch_pandas"):
        with pytest.raises(WatchTimeoutError) as info:
            make(client, FakeClock(), timeout=1).run(lambda: Response(job=job(1)))
    assert FORBIDDEN in str(info.value)
    assert _warnings_about_the_cancel(caplog) == []
    assert any(FORBIDDEN in r.getMessage() for r in caplog.records)  # kept for debugging


def test_a_cancel_that_fails_after_a_failed_poll_is_said_once_in_the_error(caplog):
    class FailingClient(FakeClient):
        def get_job(self, job_id, *, query_id=None):
            raise TransportError(f"GET /api/jobs/{job_id}: the connection broke; try again.")

    client = FailingClient([], cancel_raises=ForbiddenError(FORBIDDEN))
    with caplog.at_level(logging.DEBUG, logger="watch_pandas"):
        with pytest.raises(TransportError) as info:
            make(client, FakeClock()).run(lambda: Response(job=job(1)))
    assert FORBIDDEN in str(info.value)
    assert _warnings_about_the_cancel(caplog) == []


def test_a_cancel_that_fails_after_ctrl_c_is_a_warning(caplog):
    """KeyboardInterrupt carries no message: the warning is the only place that says it."""
    client, clock = FakeClient([job(2)], cancel_raises=ForbiddenError(FORBIDDEN)), FakeClock()

    def interrupting_sleep(seconds: float) -> None:
        raise KeyboardInterrupt

    execution = make(client, clock)
    execution._sleep = interrupting_sleep
    with caplog.at_level(logging.DEBUG, logger="watch_pandas"):
        with pytest.raises(KeyboardInterrupt):
            execution.run(lambda: Response(job=job(1)))
    assert len(_warnings_about_the_cancel(caplog)) == 1


def test_deadline_message_gives_the_seconds_as_a_person_would():
    # a dashboard hands each widget what is left of its timeout, e.g. 1.99598 s
    client, clock = FakeClient([job(1)]), FakeClock()
    with pytest.raises(WatchTimeoutError) as info:
        make(client, clock, timeout=1.99598).run(lambda: Response(job=job(1)))
    assert "after 2 s" in str(info.value)
    assert "1.99598" not in str(info.value)


def test_a_failed_poll_cancels_the_job_and_the_error_says_so():
    class FailingClient(FakeClient):
        def get_job(self, job_id, *, query_id=None):
            raise TransportError(
                f"GET /api/jobs/{job_id}: the connection broke while the body was arriving "
                "(truncated) (after 3 retries); try again."
            )

    client, clock, events = FailingClient([]), FakeClock(), []
    with pytest.raises(TransportError) as info:
        make(client, clock, events=events).run(lambda: Response(job=job(1)))
    assert client.cancelled == ["j-1"]
    message = str(info.value)
    assert message.startswith("GET /api/jobs/j-1: the connection broke")
    assert "job j-1 was cancelled on the server" in message
    assert events[-1].state == "cancelled"


def test_a_timeout_inside_a_poll_keeps_its_reason():
    class BusyClient(FakeClient):
        def get_job(self, job_id, *, query_id=None):
            raise WatchTimeoutError(
                f"GET /api/jobs/{job_id}: the server answered 503 with Retry-After: 30 s"
            )

    client, clock = BusyClient([]), FakeClock()
    with pytest.raises(WatchTimeoutError) as info:
        make(client, clock, timeout=2).run(lambda: Response(job=job(1)))
    assert client.cancelled == ["j-1"]
    assert "Retry-After: 30 s" in str(info.value)
    assert "Job j-1 was cancelled on the server." in str(info.value)


def test_keyboard_interrupt_while_waiting_cancels_the_job_and_reraises():
    client, clock = FakeClient([job(2)]), FakeClock()

    def interrupting_sleep(seconds: float) -> None:
        if len(clock.sleeps) == 2:
            raise KeyboardInterrupt
        clock.sleep(seconds)

    execution = make(client, clock)
    execution._sleep = interrupting_sleep
    with pytest.raises(KeyboardInterrupt):
        execution.run(lambda: Response(job=job(1)))
    assert client.cancelled == ["j-1"]


def test_keyboard_interrupt_while_polling_request_cancels_too():
    class InterruptedClient(FakeClient):
        def get_job(self, job_id, *, query_id=None):
            raise KeyboardInterrupt

    client, clock = InterruptedClient([]), FakeClock()
    with pytest.raises(KeyboardInterrupt):
        make(client, clock).run(lambda: Response(job=job(1)))
    assert client.cancelled == ["j-1"]


def test_a_broken_progress_listener_does_not_break_the_read():
    def broken(event):
        raise RuntimeError("UI bug")

    client, clock = FakeClient([job(3, result=5)]), FakeClock()
    execution = Execution(client, listeners=[broken], clock=clock, sleep=clock.sleep)
    assert execution.run(lambda: Response(job=job(1))).result_id == 5


# -- cancelling once ------------------------------------------------------------------------
BASE = "https://watch.test"
USER_KEY = "u" * 40


@pytest.fixture
def watch():
    from watch_pandas._client import WatchClient

    with WatchClient(BASE, USER_KEY, retries=0) as client:
        yield client


def test_a_job_is_cancelled_once_however_many_parties_ask(watch):
    jid = "c7d07aca-82ac-4f6d-8a20-519c73d7aaee"
    with responses.RequestsMock() as mock:
        mock.delete(f"{BASE}/api/jobs/{jid}", json=sample_body("14-job-cancel"))
        assert cancel_once(watch, jid) is True
        # the interrupt and the job's own wait both ask: one DELETE reaches the server
        assert cancel_once(watch, jid) is False
        assert len(mock.calls) == 1
    # an Execution waiting on that job sees it cancelled and does not send another
    client, clock = FakeClient([job(2, job_id=jid)]), FakeClock()
    execution = make(client, clock)
    execution.job_id = jid
    assert execution.cancel() is True and client.cancelled == [jid]


def test_a_refused_cancel_of_a_job_already_cancelled_counts_as_done(watch, caplog):
    # cancelled elsewhere first (another client, the web UI): the second DELETE is a 500
    jid = "c7d07aca-82ac-4f6d-8a20-519c73d7aaef"
    with responses.RequestsMock() as mock:
        mock.delete(f"{BASE}/api/jobs/{jid}", json={"message": "Internal Server Error"}, status=500)
        cancelled = sample_body("15-job-cancelled")
        cancelled["job"]["id"] = jid
        mock.get(f"{BASE}/api/jobs/{jid}", json=cancelled)
        with caplog.at_level(logging.WARNING, logger="watch_pandas"):
            assert cancel_once(watch, jid) is True
    assert caplog.records == []


def test_a_cancel_that_really_failed_raises_and_can_be_tried_again(watch):
    jid = "c7d07aca-82ac-4f6d-8a20-519c73d7aaf0"
    with responses.RequestsMock() as mock:
        mock.delete(f"{BASE}/api/jobs/{jid}", json={"message": "Internal Server Error"}, status=500)
        running = sample_body("13-job-running")
        mock.get(f"{BASE}/api/jobs/{jid}", json=running)
        with pytest.raises(ServerError, match="already cancelled"):
            cancel_once(watch, jid)
        mock.replace(responses.DELETE, f"{BASE}/api/jobs/{jid}", json=sample_body("14-job-cancel"))
        assert cancel_once(watch, jid) is True
        assert [c.request.method for c in mock.calls] == ["DELETE", "GET", "DELETE"]
