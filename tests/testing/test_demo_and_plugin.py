"""The DeFi demo, persistence, ``serve()`` and the pytest fixtures."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from local_watch_helpers import call, run_saved

from watch_pandas.testing import LocalWatch, serve

INT64_MAX = 2**63 - 1


def _defaults(lw, qid):
    query = call(lw, "GET", f"/api/queries/{qid}").json()
    return {p["name"]: p["value"] for p in query["options"].get("parameters", [])}


PARAM_TYPES = {
    "param_text": "text",
    "param_number": "number",
    "param_enum": "enum",
    "param_multi_enum": "enum",
    "param_query": "query",
    "param_date": "date",
    "param_datetime": "datetime-local",
    "param_datetime_seconds": "datetime-with-seconds",
    "param_date_range": "date-range",
    "param_datetime_range": "datetime-range",
    "param_datetime_range_seconds": "datetime-range-with-seconds",
}


def test_demo_covers_every_parameter_type_and_each_runs_with_its_defaults(local_watch_demo):
    lw = local_watch_demo
    for name, kind in PARAM_TYPES.items():
        qid = lw.demo.queries[name]
        definition = call(lw, "GET", f"/api/queries/{qid}").json()["options"]["parameters"][0]
        assert definition["type"] == kind
        job = run_saved(lw, qid, _defaults(lw, qid))
        assert job["status"] == 3, (name, job)
    multi = call(lw, "GET", f"/api/queries/{lw.demo.queries['param_multi_enum']}").json()
    assert multi["options"]["parameters"][0]["multiValuesOptions"]["prefix"] == '"'


def test_demo_seeded_results_are_served_without_executing(local_watch_demo):
    lw = local_watch_demo
    for name in ("markets", "prices", "positions", "price_history", "market_options"):
        reply = call(lw, "GET", f"/api/queries/{lw.demo.queries[name]}/results.json")
        assert reply.status_code == 200, name
        assert reply.json()["query_result"]["data"]["rows"]
    assert lw.counters.executions == 0


def test_demo_typed_and_untyped_values(local_watch_demo):
    lw = local_watch_demo
    typed = call(lw, "GET", f"/api/queries/{lw.demo.queries['positions']}/results.json").json()
    types = {c["name"]: c["type"] for c in typed["query_result"]["data"]["columns"]}
    assert types["amount_wei"] == "integer" and types["is_open"] == "boolean"
    assert types["opened_at_tz"] == "datetime" and types["closed_on"] == "date"
    rows = typed["query_result"]["data"]["rows"]
    assert max(r["amount_wei"] for r in rows) > INT64_MAX
    assert all(r["opened_at_tz"].endswith("Z") for r in rows)
    assert any(r["note"] is None for r in rows) and any("\n" in (r["note"] or "") for r in rows)
    plain = call(lw, "GET", f"/api/queries/{lw.demo.queries['markets']}/results.json").json()
    assert {c["type"] for c in plain["query_result"]["data"]["columns"]} == {None}
    assert {r["is_stable"] for r in plain["query_result"]["data"]["rows"]} == {0, 1}


def test_demo_dropdown_text_param_failing_query_and_dashboard(local_watch_demo):
    lw = local_watch_demo
    dropdown = lw.demo.queries["param_query"]
    assert run_saved(lw, dropdown, {"market": "DAI"})["status"] == 3
    bad = call(lw, "POST", f"/api/queries/{dropdown}/results", json={"parameters": {"market": "X"}})
    assert bad.status_code == 400
    text = lw.demo.queries["param_text"]
    unsafe = call(
        lw,
        "POST",
        f"/api/queries/{text}/results",
        lw.query_key(text),
        json={"parameters": {"symbol": "WETH"}},
    )
    assert unsafe.status_code == 403
    failed = run_saved(lw, lw.demo.queries["failing"])
    assert (failed["status"], failed["error"]) == (4, "no such table: no_such_table")
    board = call(lw, "GET", "/api/dashboards/defi-overview?legacy").json()
    assert board["id"] == lw.demo.dashboards["defi_overview"] and board["name"] == "DeFi overview"
    assert len(board["widgets"]) >= 3


def test_demo_price_history_multi_value_quoting(local_watch_demo):
    lw = local_watch_demo
    qid = lw.demo.queries["price_history"]
    params = {**_defaults(lw, qid), "symbols": ["DAI", "USDC"], "min_price": 0.5}
    job = run_saved(lw, qid, params)
    result = call(lw, "GET", f"/api/query_results/{job['query_result_id']}").json()["query_result"]
    assert "IN ('DAI','USDC')" in result["query"]
    assert {r["symbol"] for r in result["data"]["rows"]} == {"DAI", "USDC"}


def test_state_persists_in_a_db_file(tmp_path, monkeypatch):
    monkeypatch.delenv("WATCH_LOCAL_ADMIN_KEY", raising=False)
    db = tmp_path / "watch.sqlite"
    with LocalWatch(db=db, demo=True) as first:
        key, demo, count = (
            first.admin_key,
            first.demo,
            call(first, "GET", "/api/queries").json()["count"],
        )
    with LocalWatch(db=db, demo=True) as second:
        assert second.admin_key == key and second.demo == demo
        assert call(second, "GET", "/api/queries").json()["count"] == count
        reply = call(second, "GET", f"/api/queries/{demo.queries['prices']}/results.csv")
        assert reply.status_code == 200 and reply.text.startswith("day,symbol,price")


def test_admin_key_from_environment(monkeypatch):
    monkeypatch.setenv("WATCH_LOCAL_ADMIN_KEY", "fixed-local-key")
    with LocalWatch() as lw:
        assert lw.admin_key == "fixed-local-key"
        assert call(lw, "GET", "/api/session").status_code == 200


def test_serve_prints_url_and_key_and_stops(monkeypatch):
    monkeypatch.setenv("WATCH_LOCAL_ADMIN_KEY", "serve-key")
    out = io.StringIO()
    stop = threading.Event()
    thread = threading.Thread(target=serve, kwargs={"port": 0, "stream": out, "stop_event": stop})
    thread.start()
    try:
        for _ in range(500):
            if "Ctrl-C" in out.getvalue():
                break
            threading.Event().wait(0.01)
        url = re.search(r"http://127\.0\.0\.1:\d+", out.getvalue()).group(0)
        assert "serve-key" in out.getvalue()
        import requests

        assert (
            requests.get(
                f"{url}/api/session", headers={"Authorization": "Key serve-key"}, timeout=10
            ).status_code
            == 200
        )
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()


def test_local_watch_fixture_is_fresh_and_empty(local_watch):
    assert call(local_watch, "GET", "/api/queries").json()["count"] == 0
    assert call(local_watch, "GET", "/api/data_sources").json() == []
    assert local_watch.url.startswith("http://127.0.0.1:")


DEMO_FIXTURE_RESETS = """
import time

import requests

def config(lw):
    return requests.get(f"{lw.url}/api/config", timeout=30).json()["client_config"]

def test_arm_every_switch(local_watch_demo):
    lw = local_watch_demo
    lw.set_date_format("YYYY-MM-DD", "HH:mm:ss")
    assert config(lw)["dateFormat"] == "YYYY-MM-DD"
    lw.hold_jobs()
    lw.execution_delay = 5.0
    lw.faults.fail_next(5)
    assert lw.faults.pending == 5 and lw.counters.requests() == 1

def test_the_next_test_sees_none_of_them(local_watch_demo):
    lw = local_watch_demo
    assert lw.counters.snapshot() == {"requests": {}, "executions": 0}
    assert lw.faults.pending == 0 and lw.execution_delay == 0.0
    assert config(lw)["dateFormat"] == "DD/MM/YY"
    qid = lw.demo.queries["markets"]
    reply = requests.post(
        f"{lw.url}/api/queries/{qid}/results",
        json={"max_age": 0},
        headers={"Authorization": f"Key {lw.admin_key}"},
        timeout=30,
    )
    job = reply.json()["job"]
    for _ in range(300):  # a held job would stay queued
        job = requests.get(
            f"{lw.url}/api/jobs/{job['id']}",
            headers={"Authorization": f"Key {lw.admin_key}"},
            timeout=30,
        ).json()["job"]
        if job["status"] in (3, 4):
            break
        time.sleep(0.05)
    assert job["status"] == 3
"""


def test_demo_fixture_resets_switches_between_tests(pytester: pytest.Pytester) -> None:
    """Two tests in their own session, in this order: the first arms every switch, the
    second (same session-wide server) must see none of them."""
    pytester.makepyfile(test_reset=DEMO_FIXTURE_RESETS)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=2)


def test_not_running_has_no_url():
    lw = LocalWatch()
    try:
        with pytest.raises(RuntimeError, match="not running"):
            _ = lw.url
    finally:
        lw.stop()


@pytest.mark.slow
def test_large_query_million_rows(local_watch_demo):
    lw = local_watch_demo
    qid = lw.demo.queries["large"]
    job = run_saved(lw, qid)
    assert job["status"] == 3
    body = call(lw, "GET", f"/api/queries/{qid}/results.json", timeout=300).json()
    data = body["query_result"]["data"]
    assert len(data["rows"]) >= 1_000_000 and len(data["columns"]) == 8
    assert {c["type"] for c in data["columns"]} >= {
        "integer",
        "float",
        "boolean",
        "date",
        "datetime",
        "string",
    }
    assert data["rows"][0]["amount_wei"] > INT64_MAX
    text = call(lw, "GET", f"/api/queries/{qid}/results.csv", timeout=300).text
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert len(rows) == 1 + len(data["rows"])


def test_public_surface_is_pinned():
    import watch_pandas.testing as testing

    assert sorted(testing.__all__) == ["Counters", "Faults", "LocalWatch", "serve"]
    assert {"local_watch", "local_watch_demo", "local_watch_factory"} <= set(
        vars(__import__("watch_pandas.testing.plugin", fromlist=["x"]))
    )


class _Recorder:
    """A text stream that appends ``(name, text)`` to a shared list (order across streams)."""

    def __init__(self, name: str, log: list[tuple[str, str]]) -> None:
        self.name, self.log = name, log

    def write(self, text: str) -> int:
        self.log.append((self.name, text))
        return len(text)

    def flush(self) -> None:
        pass


class _Unbound:
    """Stands in for LocalWatch so that no test binds a non-loopback address."""

    def __init__(self, *, host: str, port: int, **options) -> None:
        self.url, self.admin_key = f"http://{host}:{port}", "serve-key"

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        pass


def _serve_output(monkeypatch, host: str) -> list[tuple[str, str]]:
    import sys

    from watch_pandas.testing import _server

    log: list[tuple[str, str]] = []
    monkeypatch.setattr(_server, "LocalWatch", _Unbound)
    monkeypatch.setattr(sys, "stderr", _Recorder("err", log))
    stop = threading.Event()
    stop.set()
    serve(host=host, port=5000, stream=_Recorder("out", log), stop_event=stop)
    return log


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.7", "watch-box.example.org"])
def test_serve_on_a_reachable_address_warns_on_stderr_before_the_key(monkeypatch, host):
    log = _serve_output(monkeypatch, host)
    key_at = next(i for i, (_, text) in enumerate(log) if "serve-key" in text)
    warnings = [text for name, text in log[:key_at] if name == "err"]
    assert any("other machines" in text and host in text for text in warnings), log
    assert all("serve-key" not in text for name, text in log if name == "err")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_serve_on_loopback_prints_no_warning(monkeypatch, host):
    log = _serve_output(monkeypatch, host)
    assert [text for name, text in log if name == "err"] == []
    assert any("serve-key" in text for _, text in log)


@pytest.mark.parametrize("port", [-1, 65536, 99999])
def test_local_watch_refuses_a_port_outside_0_to_65535(port):
    with pytest.raises(ValueError, match="0 to 65535"):
        LocalWatch(port=port)


REPO_ROOT = Path(__file__).resolve().parents[2]


def _python(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter on this checkout, without the caller's WATCH_* env."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCH_")}
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=60,
        check=False,
    )


def test_local_watch_on_a_busy_port_raises_instead_of_exiting_the_process():
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(OSError, match=f"port={port}.*in use"):
            LocalWatch(port=port).start()


@pytest.mark.parametrize(
    ("module", "absent"),
    [
        # pytest loads the plugin in every run wherever watch-pandas is installed.
        ("watch_pandas.testing.plugin", {"werkzeug", "dateutil"}),
        ("watch_pandas.testing", {"werkzeug", "dateutil"}),
        # The domain stays free of HTTP: only the handlers and the app speak werkzeug.
        ("watch_pandas.testing._backend", {"werkzeug"}),
    ],
)
def test_importing_leaves_what_it_does_not_need_unloaded(module, absent):
    out = _python(f"import sys, {module}; print(sorted({absent!r} & set(sys.modules)))")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# A missing package of the ``server`` extra, simulated: None in sys.modules stops its import.
_WITHOUT = "import sys; sys.modules[{name!r}] = None\n"


@pytest.mark.parametrize("missing", ["werkzeug", "dateutil"])
@pytest.mark.parametrize("command", [["demo"], ["serve", "--port", "0"]])
def test_demo_and_serve_without_the_server_extra_say_what_to_install(missing, command):
    out = _python(
        _WITHOUT.format(name=missing)
        + f"from watch_pandas._cli import main\nsys.exit(main({command!r}))"
    )
    assert out.returncode != 0
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert 'pip install "watch-pandas[server]"' in lines[0]
    assert missing in lines[0]


def test_importing_local_watch_without_the_server_extra_says_what_to_install():
    out = _python(_WITHOUT.format(name="werkzeug") + "from watch_pandas.testing import LocalWatch")
    assert out.returncode != 0
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("ModuleNotFoundError:")
    assert 'pip install "watch-pandas[server]"' in last
