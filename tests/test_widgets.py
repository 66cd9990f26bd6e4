"""The parameter picker and the progress widget (ipywidgets driven from Python).

Construction and validation run against a small in-memory client (no HTTP); Run, progress
and Cancel run against the local Watch server so the parameters that reach the server and the
job that gets cancelled are real.
"""

from __future__ import annotations

import io
import json
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any

import ipywidgets
import pandas as pd
import pytest
from _samples import sample_body

from watch_pandas import read_watch_query
from watch_pandas import widgets as W
from watch_pandas._progress import ProgressEvent, TextProgress
from watch_pandas.errors import (
    ConfigError,
    NotFoundError,
    ParameterError,
    QueryCancelledError,
)
from watch_pandas.models import Query


# -- an in-memory client for building forms ------------------------------------------------
class FormClient:
    """Just what QueryPicker needs to build its form; records the calls it gets."""

    url = "http://127.0.0.1:9"

    def __init__(self, parameters, dropdown_rows=()):
        self.parameters = list(parameters)
        self.dropdown_rows = list(dropdown_rows)
        self.dropdown_calls: list[tuple[int, int | None]] = []
        self.cancelled: list[str] = []

    def get_query(self, query_id):
        return Query.from_json(
            {
                "id": query_id,
                "name": "Demo <prices>",
                "query": "SELECT 1",
                "data_source_id": 1,
                "options": {"parameters": self.parameters},
            }
        )

    def get_dropdown_options(self, query_id, *, parameter_query_id=None):
        self.dropdown_calls.append((query_id, parameter_query_id))
        return self.dropdown_rows

    def query_url(self, query_id):
        return f"{self.url}/queries/{query_id}"

    def cancel_job(self, job_id):
        self.cancelled.append(job_id)

    def close(self):
        pass


def _recorded_parameters(*names: str) -> list[dict]:
    parameters = []
    for name in names:
        body = sample_body(name)
        parameters += body["options"]["parameters"]
    return parameters


@pytest.fixture
def all_kinds_client() -> FormClient:
    """Every definition from the recorded 06-* queries, plus the dropdown's options."""
    parameters = _recorded_parameters(
        "06-query-demo-params",
        "06-query-example-ranges-multi",
        "06-query-example-seconds",
        "06-query-example-dropdown",
    )
    parameters.append({"name": "at", "type": "datetime-local", "title": "At", "value": None})
    parameters.append({"name": "ratio", "type": "number", "title": "Ratio", "value": 0.25})
    rows = [{"name": "zero", "value": 0}, {"name": "one", "value": 1}]
    return FormClient(parameters, rows)


def _build(client, **kwargs) -> W.QueryPicker:
    return W.QueryPicker(7, client=client, **kwargs)


def test_each_parameter_type_gets_its_control_with_the_saved_default(all_kinds_client):
    picker = _build(all_kinds_client)
    controls = {name: f.controls for name, f in picker.fields.items()}

    assert isinstance(controls["label"][0], ipywidgets.Text)
    assert controls["label"][0].value == "item"
    # numbers are typed as text: what the user types is what the server gets
    assert type(controls["min_price"][0]) is ipywidgets.Text
    assert controls["min_price"][0].value == "10"
    assert type(controls["ratio"][0]) is ipywidgets.Text
    assert controls["ratio"][0].value == "0.25"
    flag = controls["flag"][0]
    assert isinstance(flag, ipywidgets.Dropdown) and not isinstance(flag, ipywidgets.SelectMultiple)
    assert list(flag.options) == ["0", "1"] and flag.value == "1"
    assert isinstance(controls["start_date"][0], ipywidgets.DatePicker)
    assert controls["start_date"][0].value == date(2024, 3, 1)
    start, end = controls["period"]
    assert isinstance(start, ipywidgets.DatePicker) and isinstance(end, ipywidgets.DatePicker)
    assert (start.value, end.value) == (date(2024, 2, 1), date(2024, 3, 1))
    kinds = controls["kinds"][0]
    assert isinstance(kinds, ipywidgets.SelectMultiple)
    assert kinds.value == ("a", "c")
    since = controls["since"][0]
    assert isinstance(since, ipywidgets.NaiveDatetimePicker)
    assert since.value == datetime(2024, 1, 10, 12, 0, 0)
    assert isinstance(controls["at"][0], ipywidgets.NaiveDatetimePicker)
    assert controls["at"][0].value is None


def test_query_dropdown_is_filled_from_the_dropdown_query(all_kinds_client):
    picker = _build(all_kinds_client)
    dropdown = picker.fields["f"].controls[0]

    assert all_kinds_client.dropdown_calls == [(7, 8)]
    assert dropdown.options == (("zero", "0"), ("one", "1"))
    assert dropdown.value == "1"
    assert picker.fields["f"].options == ["0", "1"]


@pytest.mark.parametrize("multi", [False, True])
def test_query_parameter_without_a_source_query_is_typed_not_picked(multi):
    # Without queryId the query's own /dropdown would offer the wrong values (reads leave
    # such a value to the server): the picker asks for none and takes what is typed.
    definition = {"name": "f", "type": "query", "title": "F", "value": "a"}
    if multi:
        definition |= {"value": ["a", "b"], "multiValuesOptions": {"separator": ","}}
    client = FormClient([definition], [{"name": "wrong", "value": "x"}])
    picker = _build(client)
    control = picker.fields["f"].controls[0]

    assert client.dropdown_calls == []
    assert type(control) is ipywidgets.Text
    assert control.value == ("a, b" if multi else "a")
    control.value = " c ,d, " if multi else "c"
    assert picker.values() == {"f": ["c", "d"] if multi else "c"}


def test_dynamic_defaults_are_resolved_at_now():
    client = FormClient(
        [
            {"name": "day", "type": "date", "title": "Day", "value": "d_yesterday"},
            {"name": "week", "type": "date-range", "title": "Week", "value": "d_last_7_days"},
        ]
    )
    now = datetime(2024, 5, 15, 10, 30)
    picker = _build(client, now=now)

    assert picker.fields["day"].controls[0].value == date(2024, 5, 14)
    start, end = (c.value for c in picker.fields["week"].controls)
    assert (start, end) == (date(2024, 5, 8), date(2024, 5, 15))


def test_prefilled_params_override_defaults(all_kinds_client):
    picker = _build(all_kinds_client, params={"flag": "0", "kinds": ["b"], "min_price": 3})

    assert picker.fields["flag"].controls[0].value == "0"
    assert picker.fields["kinds"].controls[0].value == ("b",)
    assert picker.fields["min_price"].controls[0].value == "3"


def test_prefill_accepts_array_like_multi_values(all_kinds_client):
    import numpy as np

    picker = _build(all_kinds_client, params={"kinds": np.array(["a", "b"])})
    assert picker.fields["kinds"].controls[0].value == ("a", "b")


def test_a_number_without_default_starts_empty_and_must_be_filled():
    client = FormClient([{"name": "n", "type": "number", "title": "N", "value": None}])
    picker = _build(client)
    box = picker.fields["n"].controls[0]

    assert box.value == ""
    assert picker.validate() is None
    assert "enter a number" in picker.fields["n"].error.value
    box.value = "12.5"
    assert picker.validate() == {"n": 12.5}
    box.value = "twelve"
    assert picker.validate() is None
    assert "not a number" in picker.fields["n"].error.value


def _number_picker(value: Any = 0, **kwargs: Any) -> W.QueryPicker:
    definition = {"name": "n", "type": "number", "title": "N", "value": value}
    return _build(FormClient([definition]), **kwargs)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("2500.5", 2500.5),
        ("0.5", 0.5),  # an integer box would send 0
        ("2500", 2500),  # integral text stays an int, not 2500.0
        ("2500.0", 2500),
        (" 1e3 ", 1000),
        ("-0.25", -0.25),
        ("12345678901234567891", 12345678901234567891),  # past 2**53: exact, no float
        ("0.30000000000000001", "0.30000000000000001"),  # no float holds it: its exact text
    ],
)
def test_a_number_is_read_as_typed_whatever_its_default(typed, expected):
    picker = _number_picker(0)  # an integral default must not make the box an integer box
    picker.fields["n"].controls[0].value = typed

    values = picker.validate()

    assert values == {"n": expected}
    assert type(values["n"]) is type(expected)
    assert not picker.fields["n"].has_error


@pytest.mark.parametrize(
    ("start", "shown"),
    [
        (0, "0"),  # not "0.0"
        (0.25, "0.25"),
        (2500.5, "2500.5"),
        (2**60 + 1, str(2**60 + 1)),
        ("7.10", "7.1"),
    ],
)
def test_a_number_box_shows_the_default_or_prefill_without_changing_it(start, shown):
    assert _number_picker(start).fields["n"].controls[0].value == shown
    assert _number_picker(None, params={"n": start}).fields["n"].controls[0].value == shown


def test_an_unknown_prefilled_name_is_a_parameter_error(all_kinds_client):
    with pytest.raises(ParameterError, match="min_prise") as caught:
        _build(all_kinds_client, params={"min_prise": 3})
    assert caught.value.name == "min_prise"
    assert "of query 7" in str(caught.value)


def test_prefilled_params_that_are_not_a_dict_are_a_parameter_error(all_kinds_client):
    with pytest.raises(ParameterError, match="params must be a dict"):
        _build(all_kinds_client, params=["min_price"])


def test_an_invalid_prefill_is_shown_next_to_its_field(all_kinds_client):
    picker = _build(all_kinds_client, params={"flag": "7"})

    assert picker.fields["flag"].has_error
    assert "'7'" in picker.fields["flag"].error.value
    assert not picker.fields["label"].has_error


def test_range_with_start_after_end_is_refused_next_to_the_field(all_kinds_client):
    picker = _build(all_kinds_client)
    start, end = picker.fields["period"].controls
    start.value = date(2024, 4, 1)  # after the end (2024-03-01)

    assert picker.fields["period"].has_error  # shown as soon as the value changes
    assert "start must be on or before the end" in picker.fields["period"].error.value

    picker.run_button.click()
    assert picker._thread is None  # nothing was started
    assert picker.fields["period"].has_error

    end.value = date(2024, 4, 30)
    assert not picker.fields["period"].has_error


def test_an_empty_date_is_refused_and_names_the_field(all_kinds_client):
    picker = _build(all_kinds_client)
    picker.fields["start_date"].controls[0].value = None

    assert picker.validate() is None
    assert "pick a date" in picker.fields["start_date"].error.value


def test_values_cut_datetimes_to_the_parameter_precision(all_kinds_client):
    picker = _build(all_kinds_client)
    picker.fields["at"].controls[0].value = datetime(2024, 6, 1, 9, 45, 31, 500)
    picker.fields["since"].controls[0].value = datetime(2024, 6, 1, 9, 45, 31, 500)
    picker.fields["kinds"].controls[0].value = ("b", "c")

    values = picker.validate()

    assert values is not None
    assert values["at"] == datetime(2024, 6, 1, 9, 45)
    assert values["since"] == datetime(2024, 6, 1, 9, 45, 31)
    assert values["kinds"] == ["b", "c"]
    assert values["period"] == (date(2024, 2, 1), date(2024, 3, 1))


def test_a_bad_number_is_flagged_on_its_field_by_the_library_validation(all_kinds_client):
    picker = _build(all_kinds_client)
    picker.fields["ratio"].controls[0].value = "nan"

    assert picker.validate() is None
    assert "NaN" in picker.fields["ratio"].error.value
    assert "pick a time" in picker.fields["at"].error.value  # every bad field is marked
    assert not picker.fields["label"].has_error


def test_title_is_html_escaped(all_kinds_client):
    picker = _build(all_kinds_client)
    title = picker.widget.children[0].value
    assert "Demo &lt;prices&gt;" in title and "<prices>" not in title


@pytest.mark.parametrize("bad", [6.9, True, "abc", "defi-overview", None, 0, -3])
def test_a_query_id_that_is_not_an_id_is_refused_like_read_watch_query(bad):
    """Not query 6 for 6.9 or query 1 for True, and no bare ValueError/TypeError: the same
    ConfigError read_watch_query gives, before any request."""
    client = FormClient([])
    calls = []
    client.get_query = calls.append  # type: ignore[method-assign]
    with pytest.raises(ConfigError) as info:
        W.picker(bad, client=client)
    assert str(info.value) == f"query_id must be a positive integer id like 42, not {bad!r}."
    assert calls == []
    with pytest.raises(ConfigError) as read_info:
        read_watch_query(bad, client=client, progress=False)
    assert str(read_info.value) == str(info.value)


@pytest.mark.parametrize(
    ("option", "bad"),
    [("max_age", 1.5), ("max_age", -5), ("timeout", 0), ("dtype_backend", "arrow")],
)
def test_bad_read_options_are_refused_when_the_picker_is_built(all_kinds_client, option, bad):
    """Not on the first Run, after the form was filled in: the read's own check, at once."""
    with pytest.raises(ConfigError, match=option):
        W.picker(7, client=all_kinds_client, **{option: bad})


@contextmanager
def pretend_running(picker: W.QueryPicker) -> Iterator[None]:
    """The picker believes a run is going (its worker thread waits) until the block ends."""
    gate = threading.Event()
    picker._thread = threading.Thread(target=gate.wait)
    picker._thread.start()
    try:
        yield
    finally:
        gate.set()
        picker._thread.join()


def test_cancel_before_the_job_exists_cancels_it_once_its_id_is_known(all_kinds_client):
    picker = _build(all_kinds_client)
    with pretend_running(picker):
        assert picker.cancel() is True
        assert all_kinds_client.cancelled == []
        picker._listen(ProgressEvent(state="queued", elapsed=0.1, job_id="job-1"))
        picker._listen(ProgressEvent(state="running", elapsed=0.2, job_id="job-1"))
    assert all_kinds_client.cancelled == ["job-1"]
    assert picker.cancel() is False  # nothing running any more


def test_cancel_after_the_job_finished_does_not_cancel_it_on_the_server(all_kinds_client):
    """Rows downloading: the job is done (and shared by everyone running the same SQL); a
    DELETE now would mark it cancelled for all of them (docs/protocol.md#jobs)."""
    picker = _build(all_kinds_client)
    with pretend_running(picker):
        picker._listen(ProgressEvent(state="running", elapsed=0.1, job_id="job-1"))
        picker._listen(ProgressEvent(state="downloading", elapsed=2.0, job_id="job-1"))
        assert picker.cancel() is True  # the run is still asked to stop …
    assert all_kinds_client.cancelled == []  # … but the finished job is left alone


def test_cancel_while_running_still_cancels_the_job(all_kinds_client):
    picker = _build(all_kinds_client)
    with pretend_running(picker):
        picker._listen(ProgressEvent(state="queued", elapsed=0.1, job_id="job-2"))
        picker._listen(ProgressEvent(state="running", elapsed=0.5, job_id="job-2"))
        assert picker.cancel() is True
    assert all_kinds_client.cancelled == ["job-2"]


def test_rows_that_arrive_after_cancel_are_not_shown(monkeypatch):
    import watch_pandas._api as api

    client = FormClient([])  # no parameters: the form is valid as it is
    picker = _build(client)
    results: list[Any] = []
    picker.on_result = results.append

    def read_then_cancelled(query_id, given, *, progress, **options):
        for listener in progress:
            listener(ProgressEvent(state="running", elapsed=0.1, job_id="job-3"))
            listener(ProgressEvent(state="downloading", elapsed=1.0, job_id="job-3"))
        assert picker.cancel() is True  # the user presses Cancel while the rows arrive
        return pd.DataFrame({"x": [1, 2]})

    monkeypatch.setattr(api, "read_watch_query", read_then_cancelled)
    assert picker.run(wait=True) is True

    assert picker.df is None and results == []
    assert "Cancelled: the rows that arrived after Cancel were not shown" in picker.message.value
    assert client.cancelled == []
    assert not picker.run_button.disabled and picker.cancel_button.disabled


def test_cancel_once_the_rows_are_shown_is_refused(monkeypatch):
    import watch_pandas._api as api

    picker = _build(FormClient([]))
    answers: list[bool] = []
    picker.on_result = lambda frame: answers.append(picker.cancel())  # pressed just too late
    monkeypatch.setattr(api, "read_watch_query", lambda *a, **k: pd.DataFrame({"x": [1, 2]}))
    assert picker.run(wait=True) is True

    assert answers == [False]
    assert picker.df is not None and len(picker.df) == 2
    assert "2 rows" in picker.message.value and "cancelling" not in picker.message.value


def test_a_failed_cancel_is_still_reported_when_the_rows_arrive(monkeypatch):
    import watch_pandas._api as api
    from watch_pandas.errors import ServerError

    client = FormClient([])

    def refuse(job_id):
        raise ServerError("the server said no")

    client.cancel_job = refuse
    picker = _build(client)

    def read(query_id, given, *, progress, **options):
        for listener in progress:
            listener(ProgressEvent(state="running", elapsed=0.1, job_id="job-4"))
        assert picker.cancel() is True  # the DELETE fails; the job goes on and finishes
        for listener in progress:
            listener(ProgressEvent(state="downloading", elapsed=1.0, job_id="job-4"))
        return pd.DataFrame({"x": [1]})

    monkeypatch.setattr(api, "read_watch_query", read)
    picker.run(wait=True)

    assert picker.df is None
    assert "Could not cancel job job-4" in picker.message.value
    assert "not shown" in picker.message.value


def test_a_new_job_after_the_first_one_finished_is_the_one_cancelled(all_kinds_client):
    """A query key re-asks for the result; if the server starts another job, Cancel stops it."""
    picker = _build(all_kinds_client)
    with pretend_running(picker):
        picker._listen(ProgressEvent(state="running", elapsed=0.1, job_id="job-5"))
        picker._listen(ProgressEvent(state="downloading", elapsed=1.0, job_id="job-5"))
        picker._listen(ProgressEvent(state="queued", elapsed=1.2, job_id="job-6"))
        assert picker.cancel() is True
    assert all_kinds_client.cancelled == ["job-6"]


# -- progress --------------------------------------------------------------------------------
def test_progress_display_shows_state_elapsed_and_job_id():
    display = W.ProgressDisplay()
    display(ProgressEvent(state="queued", elapsed=0.0, query_id=3))
    display(ProgressEvent(state="running", elapsed=2.25, query_id=3, job_id="ab-12"))
    display(ProgressEvent(state="failed", elapsed=3.0, job_id="ab-12", message="a <b> c"))

    assert display.states == ["queued", "running", "failed"]
    assert "failed" in display.widget.value
    assert "3.0 s" in display.widget.value
    assert "job ab-12" in display.widget.value
    assert "a &lt;b&gt; c" in display.widget.value


def test_progress_display_shortens_a_long_job_id_and_keeps_it_in_the_title():
    display = W.ProgressDisplay()
    job = "01157d06-a28a-4b9a-a0b7-4c51a08e4645"
    display(ProgressEvent(state="running", elapsed=1.0, query_id=6, job_id=job))

    assert "job 01157d06…" in display.widget.value
    assert f'title="job {job}"' in display.widget.value
    assert display.widget.value.count(job) == 1  # only in the title, not in the text


def test_progress_text_line():
    from watch_pandas._progress import progress_text  # the one formatter

    event = ProgressEvent(state="done", elapsed=1.234, query_id=5, job_id="j", source="fresh run")
    assert progress_text(event) == "done · 1.2 s · query 5 · job j · fresh run"
    long_job = ProgressEvent(state="running", elapsed=0.5, job_id="0123456789abcdef")
    assert progress_text(long_job, job_chars=8) == "running · 0.5 s · job 01234567…"
    assert progress_text(long_job) == "running · 0.5 s · job 0123456789abcdef"


def test_the_text_line_and_the_widget_say_the_same():
    """One formatter: the terminal line names where the frame came from, like the widget."""
    event = ProgressEvent(state="done", elapsed=1.234, query_id=5, job_id="j", source="local cache")
    out = io.StringIO()
    TextProgress(out, force=True)(event)
    display = W.ProgressDisplay()
    display(event)

    assert out.getvalue() == "\rwatch: done · 1.2 s · query 5 · job j · local cache\n"
    assert ">watch: done · 1.2 s · query 5 · job j · local cache</span>" in display.widget.value


def test_auto_progress_is_text_outside_a_kernel():
    assert isinstance(W.auto_progress(), TextProgress)
    assert W.auto_progress().enabled is sys.stderr.isatty()
    assert W.auto_progress(force=True).enabled


class _FakeKernelShell:
    kernel = object()


class _FakeHandle:
    def __init__(self, shown: list) -> None:
        self.shown = shown

    def update(self, obj, **kwargs) -> None:
        self.shown.append(("update", obj, kwargs))


@pytest.fixture
def fake_kernel(monkeypatch):
    """A kernel whose displays are recorded: ``("display", obj, kwargs)`` and, through the
    handle a ``display_id`` display returns, ``("update", obj, kwargs)``."""
    import ipykernel  # noqa: F401  (its presence in sys.modules marks a kernel)
    import IPython

    monkeypatch.setattr(IPython, "get_ipython", lambda: _FakeKernelShell())
    shown: list = []

    def display(obj, **kwargs):
        shown.append(("display", obj, kwargs))
        return _FakeHandle(shown) if kwargs.get("display_id") else None

    monkeypatch.setattr("IPython.display.display", display)
    return shown


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def test_auto_progress_is_a_widget_in_a_kernel_and_displays_on_first_event(fake_kernel):
    listener = W.auto_progress()

    assert isinstance(listener, W.ProgressDisplay)
    assert fake_kernel == []
    listener(ProgressEvent(state="queued", elapsed=0.0, query_id=4))
    widget = listener.widget
    assert len(fake_kernel) == 1  # displayed once, as the widget
    how, bundle, kwargs = fake_kernel[0]
    assert how == "display" and kwargs == {"raw": True, "display_id": True}
    assert bundle[WIDGET_VIEW]["model_id"] == widget.model_id
    # its text form (a saved notebook without widget state) is the line, not HTML(value=...)
    assert bundle["text/plain"] == "watch: queued · 0.0 s · query 4"


def test_a_finished_read_leaves_its_last_line_as_text_and_closes_the_widget(fake_kernel):
    listener = W.auto_progress()
    listener(ProgressEvent(state="running", elapsed=0.5, query_id=4, job_id="ab"))
    listener(ProgressEvent(state="done", elapsed=1.25, query_id=4, job_id="ab", rows=3))
    how, bundle, kwargs = fake_kernel[-1]
    assert how == "update" and kwargs == {"raw": True}
    assert bundle["text/plain"] == "watch: done · 1.2 s · query 4 · job ab · 3 rows"
    assert "watch: done" in bundle["text/html"] and WIDGET_VIEW not in bundle
    assert listener.widget.comm is None  # closed: nothing left for the front end


def test_several_jobs_on_one_line_end_as_text_after_the_last(fake_kernel):
    # a dashboard's widgets share one listener: a job may start after another has finished
    listener = W.auto_progress()
    listener(ProgressEvent(state="done", elapsed=0.5, query_id=1))
    listener(ProgressEvent(state="running", elapsed=0.6, query_id=2))
    how, bundle, _ = fake_kernel[-1]
    assert how == "update" and bundle[WIDGET_VIEW]["model_id"] == listener.widget.model_id
    assert "query 2" in listener.widget.value
    listener(ProgressEvent(state="done", elapsed=0.9, query_id=2))
    assert fake_kernel[-1][1]["text/plain"] == "watch: done · 0.9 s · query 2"
    assert [how for how, _, _ in fake_kernel] == ["display", "update", "update", "update"]


def test_without_ipywidgets_progress_falls_back_to_text_and_picker_says_how_to_install(
    fake_kernel, monkeypatch, all_kinds_client
):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import ipywidgets → ImportError

    assert not W.widget_frontend_available()
    listener = W.auto_progress()
    assert isinstance(listener, TextProgress)
    assert listener.enabled  # a notebook's stderr is no TTY, but the line is still drawn
    with pytest.raises(ImportError, match=r"pip install 'watch-pandas\[jupyter\]'"):
        W.picker(7, client=all_kinds_client)


# -- against the local server ------------------------------------------------------------------
def _widget_states(root) -> str:
    """Every trait value of a widget tree as one JSON text."""
    seen, stack, texts = set(), [root], []
    while stack:
        widget = stack.pop()
        if widget.model_id in seen:
            continue
        seen.add(widget.model_id)
        texts.append(json.dumps(widget.get_state(), default=str))
        stack.extend(getattr(widget, "children", ()))
    return "\n".join(texts)


@pytest.fixture(scope="module")
def server(demo_params_server):
    return demo_params_server


@pytest.fixture
def recorded_client(server):
    """A real WatchClient that records the JSON bodies it POSTs."""
    from watch_pandas._client import WatchClient

    client = WatchClient(server.url, server.admin_key)
    client.posted = []

    def record(response, *args, **kwargs):
        if response.request.method == "POST" and response.request.body:
            client.posted.append(json.loads(response.request.body))

    client.session.hooks["response"].append(record)
    yield client
    client.close()


def test_run_sends_the_chosen_parameters_and_shows_the_frame(server, recorded_client):
    seen = []
    picker = W.picker(server.demo_query, client=recorded_client, max_age=0, on_result=seen.append)
    picker.fields["start_date"].controls[0].value = date(2024, 3, 5)
    picker.fields["min_price"].controls[0].value = "20"
    picker.fields["label"].controls[0].value = "it"

    picker.run_button.click()
    frame = picker.wait(timeout=60)

    assert picker.error is None, picker.message.value
    assert frame is not None and seen == [frame]
    assert recorded_client.posted[0]["parameters"] == {
        "start_date": "2024-03-05",
        "min_price": 20,
        "flag": "1",
        "label": "it",
    }
    assert recorded_client.posted[0]["max_age"] == 0
    sql = frame.attrs["watch"]["sql"]  # the server's own substituted SQL
    assert "'2024-03-05'" in sql and ">= 20" in sql and "'%it%'" in sql
    assert frame.attrs["watch"]["parameters"]["start_date"] == "2024-03-05"
    assert frame["id"].tolist() == [2]
    assert picker.progress.states[0] == "queued"
    assert picker.progress.states[-1] == "done"
    shown = picker.output.outputs[0]["data"]["text/plain"]
    assert "item-b" in shown and "other" not in shown
    assert not picker.run_button.disabled and picker.cancel_button.disabled
    picker.close()


def test_a_decimal_typed_into_a_number_with_an_integral_default_reaches_the_server(
    server, recorded_client
):
    picker = W.picker(server.demo_query, client=recorded_client, max_age=0)
    picker.fields["min_price"].controls[0].value = "5.5"  # the saved default is 10

    picker.run(wait=True)

    assert picker.error is None, picker.message.value
    assert recorded_client.posted[0]["parameters"]["min_price"] == 5.5
    assert ">= 5.5" in picker.df.attrs["watch"]["sql"]  # the server's own substituted SQL
    assert picker.df["id"].tolist() == [2]  # 5 would also have matched row 1 (price 5.0)
    picker.close()


def test_no_widget_holds_the_api_key(server):
    picker = W.picker(server.demo_query, url=server.url, api_key=server.admin_key)
    picker.run(wait=True)

    assert picker.df is not None, picker.message.value
    assert server.admin_key not in _widget_states(picker.widget)
    assert server.admin_key not in repr(picker)
    picker.close()


def test_cancel_button_cancels_the_server_job(server):
    picker = W.picker(server.demo_query, url=server.url, api_key=server.admin_key, max_age=0)
    server.hold_jobs()
    try:
        picker.run_button.click()
        for _ in range(600):  # until the worker learned the job id (or gave up)
            if picker.job_id is not None or not picker.running:
                break
            picker._thread.join(0.05)
        assert picker.job_id is not None, picker.message.value
        assert not picker.cancel_button.disabled
        picker.cancel_button.click()
        picker.wait(timeout=60)
    finally:
        server.release_jobs()

    assert isinstance(picker.error, QueryCancelledError)
    assert picker.df is None
    assert "cancelled" in picker.progress.states
    assert "Cancelled" in picker.message.value
    job = picker._client.get_job(picker.job_id)
    assert job.is_cancelled
    picker.close()


def test_query_failure_is_shown_with_the_server_message(server):
    query_id = server.add_query("SELEC broken", data_source_id=server.source_id, name="bad")
    picker = W.picker(query_id, url=server.url, api_key=server.admin_key)
    picker.run(wait=True)

    assert picker.df is None
    assert "The query failed" in picker.message.value
    assert "syntax error" in picker.message.value
    assert picker.progress.states[-1] == "failed"
    picker.close()


def test_dynamic_default_runs_against_the_server(server):
    query_id = server.add_query(
        "SELECT count(*) AS n FROM demo WHERE d <= '{{ day }}'",
        data_source_id=server.source_id,
        name="dynamic",
        parameters=[{"name": "day", "type": "date", "title": "Day", "value": "d_yesterday"}],
    )
    picker = W.picker(query_id, url=server.url, api_key=server.admin_key)
    picker.run(wait=True)

    yesterday = (datetime.now() - timedelta(days=1)).date()
    assert picker.error is None, picker.message.value
    assert picker.df.attrs["watch"]["parameters"]["day"] in {
        yesterday.isoformat(),
        (yesterday + timedelta(days=1)).isoformat(),  # midnight passed during the test
    }
    picker.close()


# -- offline mode: no network, the form from the query kept in the local cache -------------
def test_offline_builds_the_picker_from_the_cached_query_and_reads_from_the_cache(
    server, monkeypatch
):
    online = read_watch_query(
        server.demo_query, url=server.url, api_key=server.admin_key, progress=False
    )
    monkeypatch.setenv("WATCH_OFFLINE", "1")
    server.counters.reset()

    picker = W.picker(server.demo_query, url=server.url, api_key=server.admin_key)
    assert set(picker.fields) == {"start_date", "min_price", "flag", "label"}
    assert picker.query_url == f"{server.url}/queries/{server.demo_query}"
    picker.run(wait=True)

    assert picker.error is None, picker.message.value
    assert picker.df.equals(online)
    assert picker.df.attrs["watch"]["source"] == "local cache"
    assert server.counters.requests() == 0
    picker.close()


def test_offline_a_query_dropdown_is_typed_and_the_callers_client_is_not_used(
    all_kinds_client,
):
    """Its options need the server: offline the value is typed, checked by the cached run."""
    from watch_pandas._cache import ResultCache

    ResultCache().store_query(all_kinds_client.url, all_kinds_client.get_query(7))
    all_kinds_client.get_query = None  # type: ignore[assignment]  # must not be called

    picker = _build(all_kinds_client, offline=True)

    assert all_kinds_client.dropdown_calls == []
    dropdowns = [f for f in picker.fields.values() if f.definition.type == "query"]
    assert dropdowns and all(f.options is None for f in dropdowns)
    assert all(isinstance(f.controls[0], ipywidgets.Text) for f in dropdowns)


def test_offline_without_a_cached_query_says_it_was_never_read_online(server):
    server.counters.reset()
    with pytest.raises(NotFoundError, match="has never been read online") as info:
        W.picker(server.demo_query, url=server.url, api_key=server.admin_key, offline=True)
    assert f"query {server.demo_query} from {server.url}" in str(info.value)
    assert server.counters.requests() == 0


def test_offline_picker_takes_cache_dir_like_read_watch_query(server, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    read_watch_query(
        server.demo_query,
        url=server.url,
        api_key=server.admin_key,
        progress=False,
        cache_dir=elsewhere,
    )
    with pytest.raises(NotFoundError):  # not in the default cache folder
        W.picker(server.demo_query, url=server.url, api_key=server.admin_key, offline=True)
    picker = W.picker(
        server.demo_query,
        url=server.url,
        api_key=server.admin_key,
        offline=True,
        cache_dir=elsewhere,
    )
    picker.run(wait=True)
    assert picker.error is None, picker.message.value
    assert picker.df.attrs["watch"]["source"] == "local cache"
    picker.close()


def test_importing_the_module_does_not_need_ipywidgets():
    import subprocess

    script = (
        "import sys; sys.modules['ipywidgets'] = None\n"
        "import watch_pandas.widgets as w\n"
        "from watch_pandas._progress import TextProgress\n"
        "assert isinstance(w.auto_progress(), TextProgress)\n"
        "try:\n"
        "    w.ProgressDisplay()\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "pip install 'watch-pandas[jupyter]'" in done.stdout
