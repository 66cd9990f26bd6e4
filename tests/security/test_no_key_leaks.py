"""No key is ever exposed: a recognisable admin key is set, every error path is provoked with
DEBUG logging on, every public object is repr'd, the picker's widget state is rendered and
the local cache folder is listed (names and bytes) — the key appears nowhere. Cache files are
user-only; the package never evals or unpickles anything.

The notebooks are executed (with a known key, outputs checked) by tests/test_notebooks.py.
"""

from __future__ import annotations

import ast
import json
import logging
import os
import secrets
import stat
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import watch_pandas
from watch_pandas import WatchClient, read_watch_query, run_sql
from watch_pandas._config import resolve_config
from watch_pandas._progress import ProgressEvent
from watch_pandas.errors import WatchError
from watch_pandas.testing import LocalWatch

PACKAGE = Path(watch_pandas.__file__).parent


@pytest.fixture
def key() -> str:
    return "SeCrEtKeY" + secrets.token_hex(16)


@pytest.fixture
def keyed_lw(key: str, monkeypatch, local_watch_factory) -> LocalWatch:
    monkeypatch.setenv("WATCH_LOCAL_ADMIN_KEY", key)
    server = local_watch_factory(demo=True)
    assert server.admin_key == key
    return server


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("WATCH_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def debug_logs(caplog) -> Iterator[Callable[[], str]]:
    caplog.set_level(logging.DEBUG, logger="watch_pandas")
    caplog.set_level(logging.DEBUG, logger="urllib3")
    caplog.set_level(logging.DEBUG)
    yield lambda: "\n".join(r.getMessage() + repr(r.args) for r in caplog.records) + caplog.text


def _everything_about(exc: BaseException) -> str:
    parts = [str(exc), repr(exc), repr(exc.args), "".join(traceback.format_exception(exc))]
    parts += [repr(v) for v in vars(exc).values()]
    return "\n".join(parts)


def _provocations(lw: LocalWatch, key: str) -> list[tuple[str, Callable[[], object]]]:
    qid = lw.demo.queries["prices"]
    ds = "demo-typed"

    def client(**kw):
        kw.setdefault("backoff_factor", 0)
        kw.setdefault("retries", 1)
        return WatchClient(lw.url, key, **kw)

    def read(**kw):
        kw.setdefault("client", client())
        return read_watch_query(qid, progress=False, cache=False, max_age=0, **kw)

    def fault(arm: Callable[[], None], call: Callable[[], object]) -> Callable[[], object]:
        def run():
            lw.faults.clear()
            arm()
            try:
                return call()
            finally:
                lw.faults.clear()

        return run

    echo = {"message": f"invalid key {key}", "job": {"error": f"no {key}"}}
    return [
        ("bad key", lambda: read_watch_query(qid, url=lw.url, api_key=key[::-1], progress=False)),
        ("unknown query", lambda: client().get_query(999999)),
        ("unknown job", lambda: client().get_job("nope")),
        (
            "bad parameter",
            lambda: read_watch_query(
                lw.demo.queries["param_enum"], {"chain": "mars"}, client=client(), progress=False
            ),
        ),
        ("unknown data source", lambda: run_sql("SELECT 1", "nope", client=client())),
        ("sql error", lambda: run_sql("SELEC 1", ds, client=client(), progress=False)),
        ("echoed 400", fault(lambda: lw.faults.fail_next(1, 400, body=echo), read)),
        ("echoed 500", fault(lambda: lw.faults.fail_next(1, 500, body=echo), read)),
        ("echoed 403", fault(lambda: lw.faults.fail_next(1, 403, body=echo), read)),
        ("503 forever", fault(lambda: lw.faults.fail_next(9, 503, retry_after=0), read)),
        ("html", fault(lambda: lw.faults.html_next(1), read)),
        # broken bodies are retried: enough of them to outlast the retries
        ("reset", fault(lambda: lw.faults.reset_next(9, path="/api/query_results/*"), read)),
        ("truncated", fault(lambda: lw.faults.truncate_next(9, path="/api/jobs/*"), read)),
        (
            "bad json echo",
            fault(lambda: lw.faults.fail_next(1, 200, body=f'{{"x": "{key}'.encode()), read),
        ),
        (
            "read timeout",
            fault(
                lambda: lw.faults.hang_next(2, seconds=1.5, path=f"/api/queries/{qid}"),
                lambda: read(client=client(timeout=(1, 0.5), retries=0)),
            ),
        ),
        ("deadline", fault(lw.hold_jobs, lambda: read(timeout=0.3))),
        ("refused", lambda: WatchClient("http://127.0.0.1:9", key, retries=0).get_query(1)),
        ("bad url", lambda: WatchClient("ftp://x", key)),
        (
            "query key on user route",
            lambda: WatchClient(lw.url, lw.query_key(qid), key_kind="query").list_data_sources(),
        ),
    ]


def test_no_error_message_or_log_line_holds_the_key(keyed_lw, key, debug_logs, cache_dir):
    seen: list[str] = []
    for name, provoke in _provocations(keyed_lw, key):
        try:
            provoke()
        except WatchError as exc:
            seen.append(name)
            assert key not in _everything_about(exc), name
            assert key[::-1] not in _everything_about(exc), name
        finally:
            keyed_lw.release_jobs()
    assert len(seen) >= 18  # every provocation really failed (none silently succeeded)
    logs = debug_logs()
    assert "GET /api/queries" in logs  # DEBUG logging was on
    assert key not in logs and key[::-1] not in logs


def test_no_public_object_repr_holds_the_key(keyed_lw, key, cache_dir, monkeypatch):
    monkeypatch.setenv("WATCH_URL", keyed_lw.url)
    monkeypatch.setenv("WATCH_API_KEY", key)
    client = WatchClient()
    frame = read_watch_query(keyed_lw.demo.queries["prices"], client=client, progress=False)
    query = client.get_query(keyed_lw.demo.queries["prices"])
    dashboards = list(client.list_dashboards())
    objects = [
        client,
        client.session.auth,
        resolve_config(),
        query,
        dashboards,
        client.get_dashboard(dashboards[0].id),
        client.list_data_sources(),
        ProgressEvent(state="done", elapsed=0.0),
        frame.attrs,
        keyed_lw,
    ]
    text = "\n".join(repr(o) + str(o) for o in objects)
    text += json.dumps(frame.attrs, default=str)
    assert key not in text
    # the query's own key is a key too: models must hide it from reprs
    assert keyed_lw.query_key(query.id) not in repr(query)


def test_picker_and_magics_show_no_key(keyed_lw, key, cache_dir, monkeypatch):
    pytest.importorskip("ipywidgets")
    from IPython.testing.globalipapp import start_ipython

    from watch_pandas.widgets import picker

    p = picker(keyed_lw.demo.queries["param_enum"], url=keyed_lw.url, api_key=key, max_age=0)
    p.run(wait=True)
    assert p.df is not None
    import ipywidgets

    registry = getattr(ipywidgets.Widget, "widgets", None) or ipywidgets.widgets.widget._instances
    states = [json.dumps(w.get_state(), default=str) for w in list(registry.values())]
    assert states and key not in "\n".join(states)
    assert key not in repr(p) + json.dumps(p._repr_mimebundle_(), default=str)

    monkeypatch.setenv("WATCH_URL", keyed_lw.url)
    monkeypatch.setenv("WATCH_API_KEY", key)
    ip = start_ipython()
    ip.run_line_magic("load_ext", "watch_pandas")
    magic = ip.magics_manager.registry.get("WatchMagic")
    assert magic is not None and key not in repr(magic) + repr(vars(magic))


def test_cache_files_hold_no_key_and_are_user_only(keyed_lw, key, cache_dir):
    client = WatchClient(keyed_lw.url, key)
    for name in ("prices", "positions", "markets"):
        read_watch_query(keyed_lw.demo.queries[name], client=client, progress=False)
    files = [p for p in cache_dir.rglob("*") if p.is_file()]
    assert len(files) >= 3
    for path in files:
        assert key not in path.name
        data = path.read_bytes()
        assert key.encode() not in data
        assert keyed_lw.query_key(keyed_lw.demo.queries["prices"]).encode() not in data
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(cache_dir.stat().st_mode) == 0o700
    if os.name == "posix":
        assert all(p.stat().st_uid == os.getuid() for p in files)


def test_the_package_never_evals_or_unpickles():
    """The client and the local test server in watch_pandas/testing/ alike."""
    banned_calls = {"eval", "exec", "compile", "__import__"}
    banned_modules = {"pickle", "cPickle", "dill", "marshal", "shelve"}
    found = []
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                if node.func.id in banned_calls:
                    found.append(f"{path.name}:{node.lineno} {node.func.id}()")
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                if banned_modules & {n.split(".")[0] for n in names}:
                    found.append(f"{path.name}:{node.lineno} import {names}")
            if (
                isinstance(node, ast.keyword)
                and node.arg == "allow_pickle"
                and getattr(node.value, "value", False)
            ):
                found.append(f"{path.name}:{node.lineno} allow_pickle")
    assert found == []
