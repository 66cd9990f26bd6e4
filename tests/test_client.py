"""WatchClient on mocked HTTP (``responses``); retries and transport on a 127.0.0.1 server."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest
import requests
import responses
import urllib3.util.retry
from _samples import load_sample, sample_body

from watch_pandas._client import ExecutionResponse, WatchClient, deadline
from watch_pandas.errors import (
    AuthError,
    ConfigError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    ParameterError,
    QueryFailedError,
    ServerError,
    TransportError,
    WatchError,
    WatchTimeoutError,
)
from watch_pandas.models import JobStatus, Query

BASE = "https://watch.example.org"
API = f"{BASE}/api"
SECRET = "SECRETKEY123abcdefXYZ"
JOB_ID = "7c24b284-4aa7-4d22-a252-a831a0eb3a35"


def status_of(name: str) -> int:
    return load_sample(name)["status"]


@pytest.fixture(autouse=True)
def no_watch_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    for name in ("WATCH_URL", "WATCH_API_KEY", "WATCH_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WATCH_CONFIG", str(tmp_path / "absent.toml"))


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    """HTTP mock; afterwards every request must carry the key header and no key in its URL."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps
        for call in rsps.calls:
            assert call.request.headers["Authorization"] == f"Key {SECRET}"
            assert call.request.headers["User-Agent"].startswith("watch-pandas/")
            assert SECRET not in call.request.url
            assert "api_key" not in call.request.url


@pytest.fixture
def client() -> Iterator[WatchClient]:
    with WatchClient(BASE, SECRET, retries=0) as watch:
        yield watch


@pytest.fixture
def query_key_client() -> Iterator[WatchClient]:
    with WatchClient(BASE, SECRET, retries=0, key_kind="query") as watch:
        yield watch


def sent_json(call: Any) -> Any:
    return json.loads(call.request.body)


def query_params(call: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query, keep_blank_values=True)


def page_body(count: int, page: int, page_size: int, ids: range) -> dict[str, Any]:
    template = sample_body("03-queries-list")["results"][0]
    return {
        "count": count,
        "page": page,
        "page_size": page_size,
        "results": [{**template, "id": i, "name": f"q{i}"} for i in ids],
    }


# -- construction, repr, secrets -----------------------------------------------------------
def test_repr_has_url_and_kind_but_no_key(client: WatchClient) -> None:
    assert repr(client) == "WatchClient(url='https://watch.example.org', key_kind='auto')"
    assert SECRET not in repr(client) and SECRET not in str(vars(client).get("url"))


# The client's public methods are its API: composing it from resource classes must neither
# add nor drop one (a deliberate change edits this list).
PUBLIC_METHODS = {
    "archive_dashboard", "archive_query", "cancel_job", "close", "create_dashboard",
    "create_query", "edit_dashboard", "edit_query", "execute_sql", "get_cached_result",
    "get_client_config", "get_dashboard", "get_dropdown_options", "get_job",
    "get_queries_page", "get_query", "get_schema", "get_result", "get_server_version",
    "is_query_key_for",
    "key_kind", "list_dashboards", "list_data_sources", "list_queries", "listed_data_sources",
    "open_result", "post_query_results", "query_url", "resolve_data_source", "save_query",
    "stream_result", "with_result",
}  # fmt: skip


def test_public_methods_are_pinned() -> None:
    assert {name for name in dir(WatchClient) if not name.startswith("_")} == PUBLIC_METHODS
    for name in PUBLIC_METHODS - {"key_kind"}:
        assert getattr(WatchClient, name).__doc__, f"{name} lost its docstring"


def test_the_client_and_its_state_hold_no_key(client: WatchClient) -> None:
    # nothing the client keeps (auth, learned state) shows the key in its repr
    assert SECRET not in repr(vars(client))


def test_requests_carry_the_key_and_user_agent(mock: responses.RequestsMock) -> None:
    mock.get(f"{API}/data_sources", json=sample_body("38-data-sources"))
    with WatchClient(BASE, SECRET) as watch:
        watch.list_data_sources()
    sent = mock.calls[0].request.headers
    assert sent["Authorization"] == f"Key {SECRET}"
    assert sent["User-Agent"].startswith("watch-pandas/")


def test_a_callers_session_is_left_untouched() -> None:
    """The key is added per request: the caller's own requests elsewhere never carry it."""
    import requests

    own = requests.Session()
    before = dict(own.headers)
    with responses.RequestsMock() as rsps:
        rsps.get(f"{API}/data_sources", json=sample_body("38-data-sources"))
        rsps.get("https://elsewhere.example.com/", body="ok")
        watch = WatchClient(BASE, SECRET, session=own)
        watch.list_data_sources()
        own.get("https://elsewhere.example.com/")
        assert rsps.calls[0].request.headers["Authorization"] == f"Key {SECRET}"
        assert "Authorization" not in rsps.calls[1].request.headers
    assert dict(own.headers) == before and own.auth is None
    assert SECRET not in repr(own.headers)


def test_netrc_entry_does_not_replace_the_key_header(
    mock: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine watch.example.org login someone password hunter2\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    mock.get(f"{API}/data_sources", json=sample_body("38-data-sources"))
    with WatchClient(BASE, SECRET) as watch:
        watch.list_data_sources()
        assert SECRET not in repr(watch._auth)
    # The mock fixture checks the Authorization header of every call.


def test_missing_configuration_is_config_error() -> None:
    with pytest.raises(ConfigError, match="WATCH_API_KEY"):
        WatchClient(BASE)


@pytest.mark.parametrize(
    "kwargs",
    [{"timeout": 0}, {"timeout": (1, -1)}, {"retries": -1}, {"key_kind": "admin"}],
)
def test_bad_constructor_arguments(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        WatchClient(BASE, SECRET, **kwargs)


def test_query_url(client: WatchClient) -> None:
    assert client.query_url(7) == f"{BASE}/queries/7"


def test_multi_org_prefix_is_kept(mock: responses.RequestsMock) -> None:
    mock.get(f"{BASE}/acme/api/queries/2", json=sample_body("06-query-demo-params"))
    with WatchClient(f"{BASE}/acme/", SECRET) as watch:
        assert watch.get_query(2).id == 2
        assert watch.query_url(2) == f"{BASE}/acme/queries/2"


def test_server_echoing_the_key_is_redacted(
    mock: responses.RequestsMock, client: WatchClient
) -> None:
    mock.get(f"{API}/queries/3", json={"message": f"bad thing with {SECRET}"}, status=404)
    with pytest.raises(NotFoundError) as info:
        client.get_query(3)
    assert SECRET not in str(info.value)
    assert "<redacted>" in str(info.value)


def test_debug_log_has_method_path_status_but_no_key(
    mock: responses.RequestsMock, client: WatchClient, caplog: pytest.LogCaptureFixture
) -> None:
    mock.get(f"{API}/data_sources", json=sample_body("38-data-sources"))
    with caplog.at_level(logging.DEBUG, logger="watch_pandas"):
        client.list_data_sources()
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "GET /api/data_sources -> 200" in text
    assert SECRET not in text


# -- queries -------------------------------------------------------------------------------
def test_list_queries_stops_at_last_page(mock: responses.RequestsMock, client: WatchClient) -> None:
    for page, ids in ((1, range(1, 26)), (2, range(26, 51)), (3, range(51, 58))):
        mock.get(f"{API}/queries", json=page_body(57, page, 25, ids))
    queries = list(client.list_queries(q="demo", tags=["defi", "eth"], order="-name", page_size=25))
    assert [q.id for q in queries] == list(range(1, 58))
    assert len(mock.calls) == 3
    params = [query_params(c) for c in mock.calls]
    assert [p["page"] for p in params] == [["1"], ["2"], ["3"]]
    assert all(p["page_size"] == ["25"] for p in params)
    assert params[0]["q"] == ["demo"]
    assert params[0]["tags"] == ["defi", "eth"]
    assert params[0]["order"] == ["-name"]


def test_list_queries_exact_multiple_does_not_ask_for_an_empty_page(
    mock: responses.RequestsMock, client: WatchClient
) -> None:
    mock.get(f"{API}/queries", json=page_body(50, 1, 25, range(1, 26)))
    mock.get(f"{API}/queries", json=page_body(50, 2, 25, range(26, 51)))
    assert len(list(client.list_queries(page_size=25))) == 50
    assert len(mock.calls) == 2


def test_list_queries_empty(mock: responses.RequestsMock, client: WatchClient) -> None:
    mock.get(f"{API}/queries", json={"count": 0, "page": 1, "page_size": 250, "results": []})
    assert list(client.list_queries()) == []
    assert query_params(mock.calls[0])["page_size"] == ["250"]


def test_list_queries_limit_stops_early(mock: responses.RequestsMock, client: WatchClient) -> None:
    mock.get(f"{API}/queries", json=page_body(57, 1, 5, range(1, 6)))
    assert [q.id for q in client.list_queries(limit=5)] == [1, 2, 3, 4, 5]
    assert len(mock.calls) == 1
    assert query_params(mock.calls[0])["page_size"] == ["5"]


@pytest.mark.parametrize("page_size", [0, 251, "25", True])
def test_bad_page_size_rejected_before_sending(client: WatchClient, page_size: Any) -> None:
    with pytest.raises(ConfigError, match="1 to 250"):
        list(client.list_queries(page_size=page_size))


def test_get_queries_page(mock: responses.RequestsMock, client: WatchClient) -> None:
    mock.get(f"{API}/queries", json=sample_body("03-queries-list"))
    page = client.get_queries_page(page=1, page_size=2)
    assert (page.count, page.page_size, page.last_page) == (11, 2, 6)
    assert page.results[0]["name"] == "example evm balances"


def test_page_out_of_range_is_not_found(mock: responses.RequestsMock, client: WatchClient) -> None:
    sample = load_sample("04-queries-page-out-of-range")
    mock.get(f"{API}/queries", json=sample["body"], status=sample["status"])
    with pytest.raises(NotFoundError, match="past the last one"):
        client.get_queries_page(page=99)


def test_get_query_detects_user_key(mock: responses.RequestsMock, client: WatchClient) -> None:
    mock.get(f"{API}/queries/2", json=sample_body("06-query-demo-params"))
    query = client.get_query(2)
    assert query.name == "demo params"
    assert [p["name"] for p in query.parameters] == ["start_date", "min_price", "flag", "label"]
    assert client.key_kind == "user"  # it read the query but is not the query's key


def test_get_query_detects_query_key(mock: responses.RequestsMock, client: WatchClient) -> None:
    mock.get(
        f"{API}/queries/5", json={**sample_body("06-query-demo-params"), "id": 5, "api_key": SECRET}
    )
    query = client.get_query("5")
    assert client.is_query_key_for(query)
    assert client.key_kind == "query"


def test_is_query_key_for_only_checks(client: WatchClient) -> None:
    # a check must not settle the key's kind: only reading the query (get_query) records it
    mine = Query.from_json({**sample_body("06-query-demo-params"), "id": 5, "api_key": SECRET})
    other = Query.from_json({**sample_body("06-query-demo-params"), "id": 6, "api_key": "other"})
    assert client.is_query_key_for(mine) and not client.is_query_key_for(other)
    assert client.key_kind == "auto"


def test_key_kind_is_learned_once_when_threads_race() -> None:
    from watch_pandas._client._key import KeyKindState

    state = KeyKindState("auto")
    threads = 8
    barrier = threading.Barrier(threads)

    def learn(i: int) -> str:
        barrier.wait()
        if i % 2:
            state.record_user_route()
        else:
            state.record_query(5, is_its_key=True)
        return state.kind

    with ThreadPoolExecutor(threads) as pool:
        seen = list(pool.map(learn, range(threads)))
    # the first transition wins; every thread then sees the same kind, and it never changes
    assert state.kind in ("user", "query") and set(seen) == {state.kind}
    first = state.kind
    state.record_user_route()
    state.record_query(6, is_its_key=False)
    assert state.kind == first
    assert state.query_id == 5  # the query whose own key it is, remembered whatever the kind


def test_configured_key_kind_is_never_changed_by_detection() -> None:
    from watch_pandas._client._key import KeyKindState

    state = KeyKindState("query")
    state.record_user_route()
    state.record_query(7, is_its_key=False)
    assert (state.kind, state.configured, state.query_id) == ("query", "query", None)


@pytest.mark.parametrize("bad", ["abc", 0, -3, 1.5, None, True])
def test_bad_query_id_rejected_before_sending(client: WatchClient, bad: Any) -> None:
    with pytest.raises(ConfigError, match="positive integer id"):
        client.get_query(bad)


def test_create_query_and_publish(mock: responses.RequestsMock, client: WatchClient) -> None:
    created = {**sample_body("06-query-demo-params"), "id": 12, "is_draft": True, "version": 1}
    mock.post(f"{API}/queries", json=created)
    mock.post(f"{API}/queries/12", json={**created, "is_draft": False, "version": 2})
    params = [{"name": "n", "type": "number", "value": 1, "title": "n"}]
    query = client.create_query(
        data_source_id=1,
        query="SELECT {{ n }}",
        name="n",
        tags=["t"],
        parameters=params,
        publish=True,
    )
    assert not query.is_draft and query.version == 2
    assert sent_json(mock.calls[0]) == {
        "data_source_id": 1,
        "query": "SELECT {{ n }}",
        "name": "n",
        "description": None,
        "options": {"parameters": params},
        "schedule": None,
        "tags": ["t"],
    }
    assert sent_json(mock.calls[1]) == {"is_draft": False, "version": 1}


def test_edit_query_sends_version_and_maps_409(
    mock: responses.RequestsMock, client: WatchClient
) -> None:
    mock.post(
        f"{API}/queries/2",
        json={"message": "Overwriting this query would lose changes."},
        status=409,
    )
    with pytest.raises(ConflictError, match="Read it again"):
        client.edit_query(2, version=3, name="new")
    assert sent_json(mock.calls[0]) == {"name": "new", "version": 3}


def test_edit_by_non_owner_is_forbidden(mock: responses.RequestsMock, client: WatchClient) -> None:
    mock.post(
        f"{API}/queries/2",
        json={"message": "You don't have permission to edit this resource."},
        status=403,
    )
    with pytest.raises(ForbiddenError, match="permission to edit"):
        client.edit_query(2, name="x")


def test_archive_query(mock: responses.RequestsMock, client: WatchClient) -> None:
    mock.delete(f"{API}/queries/2", body="null", content_type="application/json")
    assert client.archive_query(2) is None
    assert mock.calls[0].request.method == "DELETE"


def test_dropdown_routes(mock: responses.RequestsMock, client: WatchClient) -> None:
    options = [{"name": "a", "value": "a"}, {"name": "b", "value": 2}]
    mock.get(f"{API}/queries/8/dropdown", json=options)
    mock.get(f"{API}/queries/9/dropdowns/8", json=options[:1])
    assert client.get_dropdown_options(8) == options
    assert client.get_dropdown_options(9, parameter_query_id=8) == options[:1]


# -- execution -----------------------------------------------------------------------------
def test_post_results_cached_returns_raw_body(
    mock: responses.RequestsMock, client: WatchClient
) -> None:
    raw = json.dumps(sample_body("07-results-post-cached")).encode()
    mock.post(f"{API}/queries/1/results", body=raw, content_type="application/json")
    answer = client.post_query_results(1)
    assert answer == ExecutionResponse(job=None, body=raw)
    assert sent_json(mock.calls[0]) == {"max_age": -1}


def test_post_results_sends_empty_parameters_when_given(
    mock: responses.RequestsMock, client: WatchClient
) -> None:
    mock.post(f"{API}/queries/1/results", json=sample_body("08-results-post-max-age-0"))
    client.post_query_results(1, {}, max_age=0)
    assert sent_json(mock.calls[0]) == {"max_age": 0, "parameters": {}}


def test_post_results_job(mock: responses.RequestsMock, client: WatchClient) -> None:
    mock.post(f"{API}/queries/1/results", json=sample_body("08-results-post-max-age-0"))
    answer = client.post_query_results(1, {"flag": "1", "n": 2}, max_age=0, apply_auto_limit=False)
    assert answer.body is None and answer.job is not None
    assert answer.job.id == JOB_ID and answer.job.status is JobStatus.QUEUED
    assert sent_json(mock.calls[0]) == {
        "max_age": 0,
        "parameters": {"flag": "1", "n": 2},
        "apply_auto_limit": False,
    }


def test_post_results_big_body_with_job_key_later_is_a_result(
    mock: responses.RequestsMock, client: WatchClient
) -> None:
    # A big result body is recognised by its first key, without parsing it.
    raw = b'{"query_result": {"data": {"rows": [' + b"1," * 100_000 + b'1]}, "job": 1}}'
    mock.post(f"{API}/queries/1/results", body=raw, content_type="application/json")
    assert client.post_query_results(1, max_age=None).body == raw
    assert sent_json(mock.calls[0]) == {"max_age": -1}


@pytest.mark.parametrize("bad", [-2, "60", 1.5, True])
def test_bad_max_age_rejected(client: WatchClient, bad: Any) -> None:
    with pytest.raises(ConfigError, match="max_age"):
        client.post_query_results(1, max_age=bad)


def test_missing_parameters_mapped(mock: responses.RequestsMock, client: WatchClient) -> None:
    mock.post(
        f"{API}/queries/2/results",
        json=sample_body("18-params-missing"),
        status=status_of("18-params-missing"),
    )
    with pytest.raises(ParameterError) as info:
        client.post_query_results(2, max_age=0)
    # The server lists them in random order; we sort them.
    assert info.value.name == "flag, label, min_price, start_date"
    assert "never fills in defaults" in str(info.value)
    assert info.value.status_code == 400


def test_missing_adhoc_parameters_say_what_to_pass(
    mock: responses.RequestsMock, client: WatchClient
) -> None:
    """Ad-hoc SQL has no saved defaults: the message says which params= the SQL needs."""
    sample = load_sample("18-params-missing")
    sample["body"]["job"]["error"] = "Missing parameter value for: p.foo, дата"
    mock.post(f"{API}/query_results", json=sample["body"], status=sample["status"])
    with pytest.raises(ParameterError) as info:
        client.execute_sql("SELECT {{ дата }}, {{ p.foo }}", 1, {})
    message = str(info.value)
    assert "params={'p': {'foo': ...}, 'дата': ...}" in message
    assert "default" not in message
    assert info.value.name == "p.foo, дата"


def test_incompatible_parameters_mapped(mock: responses.RequestsMock, client: WatchClient) -> None:
    sample = load_sample("19-params-incompatible")
    mock.post(f"{API}/queries/2/results", json=sample["body"], status=sample["status"])
    with pytest.raises(ParameterError) as info:
        client.post_query_results(2, sample["request"]["json"]["parameters"], max_age=0)
    assert info.value.name == "flag"
    assert info.value.value == "2"
    assert "flag='2'" in str(info.value)


def test_unsafe_query_with_query_key(mock: responses.RequestsMock, client: WatchClient) -> None:
    sample = load_sample("20-query-key-unsafe")
    mock.post(f"{API}/queries/2/results", json=sample["body"], status=sample["status"])
    with pytest.raises(ForbiddenError) as info:
        client.post_query_results(2, sample["request"]["json"]["parameters"], max_age=0)
    assert "potentially unsafe parameters" in str(info.value)
    assert "user API key" in str(info.value)


def test_paused_data_source(mock: responses.RequestsMock, client: WatchClient) -> None:
    mock.post(
        f"{API}/queries/2/results",
        json={"job": {"status": 4, "error": "demo is paused (maintenance). Please try later."}},
        status=400,
    )
    with pytest.raises(QueryFailedError) as info:
        client.post_query_results(2, max_age=0)
    assert info.value.server_message.startswith("demo is paused")


def test_execute_sql(mock: responses.RequestsMock, client: WatchClient) -> None:
    sample = load_sample("11-adhoc-post")
    mock.post(f"{API}/query_results", json=sample["body"], status=sample["status"])
    answer = client.execute_sql("SELECT {{ x }}", 3, {"x": 1}, query_id=12)
    assert answer.job is not None
    assert sent_json(mock.calls[0]) == {
        "query": "SELECT {{ x }}",
        "data_source_id": 3,
        "max_age": 0,
        "parameters": {"x": 1},
        "query_id": 12,
    }


def test_adhoc_without_data_source_is_config_not_auth(
    mock: responses.RequestsMock, client: WatchClient
) -> None:
    sample = load_sample("17-adhoc-no-data-source")
    mock.post(f"{API}/query_results", json=sample["body"], status=sample["status"])
    with pytest.raises(ConfigError) as info:
        client.execute_sql("select 1", 1)
    assert not isinstance(info.value, AuthError)
    assert "Please select data source" in str(info.value)


def test_adhoc_unknown_data_source_500_has_hint(
    mock: responses.RequestsMock, client: WatchClient
) -> None:
    mock.post(f"{API}/query_results", json={"message": "Internal Server Error"}, status=500)
    with pytest.raises(ServerError, match=r"POST /api/query_results .*list_data_sources"):
        client.execute_sql("select 1", 99)


def test_execute_sql_with_query_key_refused_without_request(query_key_client: WatchClient) -> None:
    with pytest.raises(ForbiddenError, match="user API key"):
        query_key_client.execute_sql("select 1", 1)


# -- jobs ----------------------------------------------------------------------------------
def test_get_job_user_key(mock: responses.RequestsMock, client: WatchClient) -> None:
    mock.get(f"{API}/jobs/{JOB_ID}", json=sample_body("10-job-finished"))
    job = client.get_job(JOB_ID)
    assert job.status is JobStatus.FINISHED
    assert job.query_result_id == sample_body("10-job-finished")["job"]["query_result_id"]
    assert client.key_kind == "user"


def test_get_job_query_key_uses_query_route(
    mock: responses.RequestsMock, query_key_client: WatchClient
) -> None:
    mock.get(f"{API}/queries/5/jobs/{JOB_ID}", json=sample_body("23-query-key-query-job-route"))
    job = query_key_client.get_job(JOB_ID, query_id=5)
    assert (job.status, job.query_result_id) == (JobStatus.FINISHED, 61)


def test_get_job_auto_with_query_id_uses_route_both_keys_may_use(
    mock: responses.RequestsMock, client: WatchClient
) -> None:
    mock.get(f"{API}/queries/5/jobs/{JOB_ID}", json=sample_body("23-query-key-query-job-route"))
    assert client.get_job(JOB_ID, query_id=5).query_result_id == 61


def test_get_job_query_key_remembers_its_query(
    mock: responses.RequestsMock, client: WatchClient
) -> None:
    mock.get(
        f"{API}/queries/5", json={**sample_body("06-query-demo-params"), "id": 5, "api_key": SECRET}
    )
    mock.get(f"{API}/queries/5/jobs/{JOB_ID}", json=sample_body("23-query-key-query-job-route"))
    client.get_query(5)
    assert client.get_job(JOB_ID).status is JobStatus.FINISHED


def test_get_job_query_key_without_query_id(query_key_client: WatchClient) -> None:
    with pytest.raises(ConfigError, match="pass query_id="):
        query_key_client.get_job(JOB_ID)


def test_query_key_on_global_job_route_is_auth_error_with_hint(
    mock: responses.RequestsMock, client: WatchClient
) -> None:
    sample = load_sample("22-query-key-global-job-route")
    mock.get(f"{API}/jobs/{JOB_ID}", json=sample["body"], status=sample["status"])
    with pytest.raises(AuthError) as info:
        client.get_job(JOB_ID)
    assert not isinstance(info.value, NotFoundError)
    assert "needs a user API key" in str(info.value)


def test_unknown_job_500(mock: responses.RequestsMock, client: WatchClient) -> None:
    mock.get(f"{API}/jobs/nope", json=sample_body("16-job-unknown"), status=500)
    with pytest.raises(ServerError) as info:
        client.get_job("nope")
    assert "GET /api/jobs/nope" in str(info.value)
    assert "expired" in str(info.value)
    assert info.value.job_id == "nope"


def test_cancel_job(mock: responses.RequestsMock, client: WatchClient) -> None:
    mock.delete(f"{API}/jobs/{JOB_ID}", body="null", content_type="application/json")
    assert client.cancel_job(JOB_ID) is None
    assert len(mock.calls) == 1


def test_cancel_job_with_query_key_sends_nothing(
    mock: responses.RequestsMock, query_key_client: WatchClient
) -> None:
    with pytest.raises(ForbiddenError, match="cancelling needs a user API key"):
        query_key_client.cancel_job(JOB_ID)
    assert len(mock.calls) == 0


# -- results -------------------------------------------------------------------------------
def test_get_cached_result(mock: responses.RequestsMock, client: WatchClient) -> None:
    csv = load_sample("28-typed-pg-csv")["body"]
    mock.get(f"{API}/queries/4/results.csv", body=csv, content_type="text/csv; charset=UTF-8")
    assert client.get_cached_result(4, "csv") == csv.encode()


def test_no_cached_result(mock: responses.RequestsMock, client: WatchClient) -> None:
    sample = load_sample("24-query-key-result-by-id-hash-mismatch")
    mock.get(f"{API}/queries/5/results/61.json", json=sample["body"], status=404)
    with pytest.raises(NotFoundError, match="re-POST"):
        client.get_result(61, query_id=5)


def test_get_result_by_id(mock: responses.RequestsMock, client: WatchClient) -> None:
    raw = json.dumps(sample_body("27-typed-pg-json")).encode()
    mock.get(f"{API}/query_results/61.json", body=raw, content_type="application/json")
    assert client.get_result(61) == raw


def test_stream_result(mock: responses.RequestsMock, client: WatchClient) -> None:
    mock.get(f"{API}/query_results/61.tsv", body="a\tb\r\n1\t2\r\n")
    with client.stream_result(61, "tsv") as response:
        assert b"".join(response.iter_content(4)) == b"a\tb\r\n1\t2\r\n"


@pytest.mark.parametrize("fmt", ["txt", "JSON", "parquet"])
def test_unknown_format_rejected(client: WatchClient, fmt: str) -> None:
    with pytest.raises(ConfigError, match="json, csv, tsv, xlsx"):
        client.get_result(61, fmt)


def test_query_key_result_by_id_needs_query_id(query_key_client: WatchClient) -> None:
    with pytest.raises(ForbiddenError, match="query_id="):
        query_key_client.get_result(61)


# -- dashboards ----------------------------------------------------------------------------
def test_list_dashboards(mock: responses.RequestsMock, client: WatchClient) -> None:
    mock.get(f"{API}/dashboards", json=sample_body("34-dashboards-list"))
    dashboards = list(client.list_dashboards(q="demo"))
    assert [(d.id, d.slug, d.widgets) for d in dashboards] == [(1, "demo-dashboard", ())]
    assert query_params(mock.calls[0])["q"] == ["demo"]


@pytest.mark.parametrize("given", [1, "1"])
def test_dashboard_by_id(mock: responses.RequestsMock, client: WatchClient, given: Any) -> None:
    mock.get(f"{API}/dashboards/1", json=sample_body("35-dashboard-by-id"))
    dashboard = client.get_dashboard(given)
    assert dashboard.slug == "demo-dashboard" and dashboard.widgets[0].query is not None


def test_dashboard_by_slug_uses_legacy(mock: responses.RequestsMock, client: WatchClient) -> None:
    mock.get(
        f"{API}/dashboards/demo-dashboard?legacy", json=sample_body("37-dashboard-by-slug-legacy")
    )
    assert client.get_dashboard("demo-dashboard").id == 1
    assert urlsplit(mock.calls[0].request.url).query == "legacy"


def test_dashboard_slug_falls_back_to_the_plain_route_and_remembers(
    mock: responses.RequestsMock, client: WatchClient
) -> None:
    # a server that refuses ?legacy (e.g. behind a proxy that rejects unknown arguments)
    legacy = mock.get(f"{API}/dashboards/demo-dashboard?legacy", status=500, json={})
    mock.get(f"{API}/dashboards/demo-dashboard", json=sample_body("35-dashboard-by-id"))
    mock.get(f"{API}/dashboards/other", json={**sample_body("35-dashboard-by-id"), "slug": "other"})
    assert client.get_dashboard("demo-dashboard").id == 1
    assert client.get_dashboard("other").slug == "other"
    assert legacy.call_count == 1  # the plain slug route is used directly the second time


def test_dashboard_slug_missing_everywhere(
    mock: responses.RequestsMock, client: WatchClient
) -> None:
    mock.get(f"{API}/dashboards/ghost?legacy", status=404, json={"message": "Not Found"})
    mock.get(
        f"{API}/dashboards/ghost",
        status=500,
        json=sample_body("36-dashboard-by-slug-without-legacy"),
    )
    with pytest.raises(NotFoundError, match="No dashboard with slug 'ghost'"):
        client.get_dashboard("ghost")


def test_a_string_of_digits_is_an_id_or_else_a_slug(
    mock: responses.RequestsMock, client: WatchClient
) -> None:
    """A dashboard named "2024" has the slug "2024"; no dashboard has the id 2024."""
    mock.get(f"{API}/dashboards/2024", status=404, json={"message": "Not Found"})
    mock.get(f"{API}/dashboards", json=sample_body("34-dashboards-list"))  # id 2024 is not listed
    named = {**sample_body("37-dashboard-by-slug-legacy"), "id": 5, "slug": "2024", "name": "2024"}
    mock.get(f"{API}/dashboards/2024?legacy", json=named)
    found = client.get_dashboard("2024")
    assert (found.id, found.slug) == (5, "2024")


def test_an_int_is_only_ever_an_id(mock: responses.RequestsMock, client: WatchClient) -> None:
    mock.get(f"{API}/dashboards/2024", status=404, json={"message": "Not Found"})
    mock.get(f"{API}/dashboards", json=sample_body("34-dashboards-list"))
    with pytest.raises(NotFoundError, match="No dashboard with id 2024"):
        client.get_dashboard(2024)
    assert not any("legacy" in call.request.url for call in mock.calls)


def test_a_missing_string_of_digits_says_id_or_slug(
    mock: responses.RequestsMock, client: WatchClient
) -> None:
    # ?legacy first: responses would otherwise spend the plain route's mock on that request
    mock.get(f"{API}/dashboards/2024?legacy", status=404, json={"message": "Not Found"})
    mock.get(f"{API}/dashboards/2024", status=404, json={"message": "Not Found"})
    mock.get(f"{API}/dashboards", json=sample_body("34-dashboards-list"))
    with pytest.raises(NotFoundError, match="No dashboard with id or slug '2024'"):
        client.get_dashboard("2024")


def test_archiving_a_dashboard_whose_slug_is_digits_deletes_that_dashboard(
    mock: responses.RequestsMock, client: WatchClient
) -> None:
    mock.get(f"{API}/dashboards/1", json=sample_body("35-dashboard-by-id"))
    client.get_dashboard(1)  # the client learns that routes take ids here
    mock.get(f"{API}/dashboards/2024", status=404, json={"message": "Not Found"})
    named = {**sample_body("37-dashboard-by-slug-legacy"), "id": 5, "slug": "2024", "name": "2024"}
    mock.get(f"{API}/dashboards/2024?legacy", json=named)
    mock.delete(f"{API}/dashboards/5", json=named)
    client.archive_dashboard("2024")
    deletes = [c.request.url for c in mock.calls if c.request.method == "DELETE"]
    assert deletes == [f"{API}/dashboards/5"]


def test_dashboard_with_bad_key_is_auth_not_fallback(
    mock: responses.RequestsMock, client: WatchClient
) -> None:
    mock.get(f"{API}/dashboards/x?legacy", status=404, json=sample_body("01-auth-bad-key"))
    with pytest.raises(AuthError):
        client.get_dashboard("x")
    assert len(mock.calls) == 1


def test_create_edit_archive_dashboard(mock: responses.RequestsMock, client: WatchClient) -> None:
    dash = sample_body("35-dashboard-by-id")
    mock.post(f"{API}/dashboards", json={**dash, "is_draft": True})
    mock.post(f"{API}/dashboards/1", json={**dash, "version": 3})
    mock.get(f"{API}/dashboards/demo-dashboard?legacy", json=dash)
    mock.get(f"{API}/session", json=sample_body("40-session"))  # version 26…: routes take ids
    mock.delete(f"{API}/dashboards/1", json=dash)
    assert client.create_dashboard("Demo Dashboard").is_draft
    assert client.edit_dashboard(1, version=2, is_draft=False).version == 3
    client.archive_dashboard("demo-dashboard")
    assert sent_json(mock.calls[0]) == {"name": "Demo Dashboard"}
    assert sent_json(mock.calls[1]) == {"is_draft": False, "version": 2}
    assert mock.calls[4].request.method == "DELETE"


def test_dashboard_slug_on_v8_ignores_legacy_and_archive_uses_the_slug(
    mock: responses.RequestsMock, client: WatchClient
) -> None:
    # A real v8 server ignores ?legacy: the slug lookup succeeds, which says nothing about
    # the generation. v8's DELETE takes the slug; the version from /api/session tells.
    dash = sample_body("35-dashboard-by-id")
    session = sample_body("40-session")
    v8_session = {**session, "client_config": {**session["client_config"], "version": "8.0.0"}}
    mock.get(f"{API}/dashboards/demo-dashboard?legacy", json=dash)
    mock.get(f"{API}/session", json=v8_session)
    deleted = mock.delete(f"{API}/dashboards/demo-dashboard", json=dash)
    client.archive_dashboard("demo-dashboard")
    assert deleted.call_count == 1


def test_dashboard_generation_probed_when_the_version_is_hidden(
    mock: responses.RequestsMock, client: WatchClient
) -> None:
    dash = sample_body("35-dashboard-by-id")
    session = sample_body("40-session")
    hidden = {**session, "client_config": {"dateFormat": "DD/MM/YY"}}
    mock.get(f"{API}/dashboards/demo-dashboard?legacy", json=dash)
    mock.get(f"{API}/session", json=hidden)
    # v8 reads /api/dashboards/1 as the slug "1": not found
    mock.get(f"{API}/dashboards/1", status=404, json={"message": "Not Found"})
    deleted = mock.delete(f"{API}/dashboards/demo-dashboard", json=dash)
    client.archive_dashboard("demo-dashboard")
    assert deleted.call_count == 1


def test_dashboard_id_on_v8_maps_to_the_slug(
    mock: responses.RequestsMock, client: WatchClient
) -> None:
    dash = sample_body("35-dashboard-by-id")
    mock.get(f"{API}/dashboards/1", status=404, json={"message": "Not Found"})
    mock.get(f"{API}/dashboards", json=sample_body("34-dashboards-list"))
    mock.get(f"{API}/dashboards/demo-dashboard", json=dash)
    assert client.get_dashboard(1).id == 1
    assert client.get_dashboard(1).id == 1  # remembered: straight to the slug route
    assert [urlsplit(c.request.url).path for c in mock.calls].count("/api/dashboards/1") == 1


def test_a_missing_dashboard_id_is_not_found(
    mock: responses.RequestsMock, client: WatchClient
) -> None:
    mock.get(f"{API}/dashboards/77", status=500, json={"message": "Internal Server Error"})
    mock.get(f"{API}/dashboards", json=sample_body("34-dashboards-list"))
    with pytest.raises(NotFoundError, match="No dashboard with id 77"):
        client.get_dashboard(77)


@pytest.fixture(params=["v10+", "v8"])
def board_server(request, local_watch_factory):
    """A local server of either dashboard generation, with one two-widget dashboard."""
    lw = local_watch_factory(dashboard_slug_routes=request.param == "v8")
    ds = lw.add_data_source("db")
    ids = [lw.add_query(f"SELECT {i} AS n", ds, name=f"q{i}") for i in (1, 2)]
    return lw, lw.add_dashboard("Board Of Two", query_ids=ids)


def test_dashboard_by_id_slug_and_archive_on_both_generations(board_server) -> None:
    lw, did = board_server
    with WatchClient(lw.url, lw.admin_key, retries=0) as watch:
        by_id = watch.get_dashboard(did)
        assert by_id.id == did and len(by_id.widgets) == 2
        assert watch.get_dashboard(str(did)).id == did
    with WatchClient(lw.url, lw.admin_key, retries=0) as watch:  # fresh: nothing remembered
        by_slug = watch.get_dashboard(by_id.slug)
        assert by_slug.id == did
        watch.archive_dashboard(by_id.slug)
        assert watch.get_dashboard(did).is_archived
        assert [d.id for d in watch.list_dashboards()] == []


def test_archive_by_id_on_both_generations(board_server) -> None:
    lw, did = board_server
    with WatchClient(lw.url, lw.admin_key, retries=0) as watch:
        watch.archive_dashboard(did)
        assert watch.get_dashboard(did).is_archived


def test_a_client_shared_by_threads_learns_one_dashboard_generation(
    board_server, request: pytest.FixtureRequest
) -> None:
    lw, did = board_server
    v8 = request.node.callspec.params["board_server"] == "v8"
    with WatchClient(lw.url, lw.admin_key, retries=0) as watch:
        slug = watch.get_dashboard(did).slug
    threads = 6
    barrier = threading.Barrier(threads)

    with WatchClient(lw.url, lw.admin_key, retries=0) as shared:  # fresh: nothing learned

        def read(i: int) -> int:
            barrier.wait()  # all threads probe the routes at once
            return shared.get_dashboard(did if i % 2 else slug).id

        with ThreadPoolExecutor(threads) as pool:
            assert list(pool.map(read, range(threads))) == [did] * threads
        assert shared.key_kind == "user"
        lw.counters.reset()
        shared.archive_dashboard(did)
        # learned once for all threads: v10+ deletes by id straight away, v8 finds the slug
        # it remembered (one GET) and deletes by slug; neither probes the version again
        assert lw.counters.requests() == (2 if v8 else 1)
        assert lw.counters.requests("DELETE") == 1
        assert shared.get_dashboard(did).is_archived


def test_read_watch_dashboard_by_id_on_both_generations(board_server, tmp_path) -> None:
    from watch_pandas import read_watch_dashboard

    lw, did = board_server
    frames = read_watch_dashboard(
        did, url=lw.url, api_key=lw.admin_key, progress=False, cache_dir=tmp_path
    )
    assert {title: frame["n"].tolist() for title, frame in frames.items()} == {
        "q1": [1],
        "q2": [2],
    }


# -- data sources / config -----------------------------------------------------------------
def test_list_and_resolve_data_sources(mock: responses.RequestsMock, client: WatchClient) -> None:
    mock.get(f"{API}/data_sources", json=sample_body("38-data-sources"))
    assert [s.name for s in client.list_data_sources()] == [
        "demo-postgres",
        "demo-sqlite",
        "evm-python",
    ]
    assert client.resolve_data_source("demo-sqlite").id == 1
    assert client.resolve_data_source(3).name == "evm-python"
    assert client.resolve_data_source("2").name == "demo-postgres"
    with pytest.raises(NotFoundError) as info:
        client.resolve_data_source("mainnet")
    assert "demo-postgres (id 2)" in str(info.value) and "evm-python (id 3)" in str(info.value)


def test_client_config_from_session(mock: responses.RequestsMock, client: WatchClient) -> None:
    mock.get(f"{API}/session", json=sample_body("40-session"))
    assert client.get_client_config()["dateFormat"] == "DD/MM/YY"
    assert client.get_server_version() == "26.08.0-dev"


def test_client_config_falls_back_to_public_config(
    mock: responses.RequestsMock, client: WatchClient
) -> None:
    mock.get(f"{API}/session", json=sample_body("01-auth-bad-key"), status=404)
    mock.get(f"{API}/config", json=sample_body("39-config"))
    assert client.get_client_config()["dateTimeFormat"] == "DD/MM/YY HH:mm"


def test_query_key_reads_public_config(
    mock: responses.RequestsMock, query_key_client: WatchClient
) -> None:
    mock.get(f"{API}/config", json=sample_body("39-config"))
    assert query_key_client.get_server_version() is None


@pytest.mark.parametrize(
    "call",
    [
        lambda c: list(c.list_queries()),
        lambda c: list(c.list_dashboards()),
        lambda c: c.list_data_sources(),
        lambda c: c.create_dashboard("x"),
    ],
)
def test_user_only_routes_refused_for_query_key(
    mock: responses.RequestsMock, query_key_client: WatchClient, call: Any
) -> None:
    with pytest.raises(ForbiddenError, match="user API key"):
        call(query_key_client)
    assert len(mock.calls) == 0


# -- error mapping -------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["01-auth-bad-key", "02-auth-no-key"])
def test_bad_key_404_is_auth_error(
    mock: responses.RequestsMock, client: WatchClient, name: str
) -> None:
    mock.get(f"{API}/queries/1", json=sample_body(name), status=status_of(name))
    with pytest.raises(AuthError) as info:
        client.get_query(1)
    assert not isinstance(info.value, NotFoundError)
    assert "not accepted" in str(info.value) and SECRET not in str(info.value)
    assert info.value.status_code == 404


def test_login_message_with_did_you_mean_suffix(
    mock: responses.RequestsMock, client: WatchClient
) -> None:
    message = (
        "Couldn't find resource. Please login and try again. You have requested this URI "
        "[/api/queries/1] but did you mean /api/queries/<query_id> ?"
    )
    mock.get(f"{API}/queries/1", json={"message": message}, status=404)
    with pytest.raises(AuthError):
        client.get_query(1)


def test_plain_404_is_not_found(mock: responses.RequestsMock, client: WatchClient) -> None:
    mock.get(f"{API}/queries/999", json={"message": "Not Found"}, status=404)
    with pytest.raises(NotFoundError, match="Query 999 was not found"):
        client.get_query(999)


def test_html_page_is_server_error(mock: responses.RequestsMock, client: WatchClient) -> None:
    mock.get(f"{API}/queries/1", body="<html><body>Welcome</body></html>", content_type="text/html")
    with pytest.raises(ServerError, match="HTML page instead of the API"):
        client.get_query(1)


def test_redirect_to_login_is_auth_error(mock: responses.RequestsMock, client: WatchClient) -> None:
    mock.get(f"{API}/queries/1", status=302, headers={"Location": f"{BASE}/login?next=/api"})
    mock.get(f"{BASE}/login", body="<html><form>login</form></html>", content_type="text/html")
    with pytest.raises(AuthError, match="login page"):
        client.get_query(1)


def test_non_json_body_is_server_error(mock: responses.RequestsMock, client: WatchClient) -> None:
    mock.get(f"{API}/queries/1", body="oops", content_type="text/plain")
    with pytest.raises(ServerError, match="not JSON"):
        client.get_query(1)


def test_post_redirect_is_not_followed(mock: responses.RequestsMock, client: WatchClient) -> None:
    mock.post(f"{API}/queries/1/results", status=301, headers={"Location": "https://other/x"})
    with pytest.raises(ServerError, match="redirected"):
        client.post_query_results(1, max_age=0)
    assert len(mock.calls) == 1


def test_unknown_400_is_watch_error(mock: responses.RequestsMock, client: WatchClient) -> None:
    mock.post(f"{API}/queries/1", json={"message": "The browser sent nonsense."}, status=400)
    with pytest.raises(WatchError, match="nonsense"):
        client.edit_query(1, name="x")


@pytest.mark.parametrize(
    ("exc", "says"),
    [
        (requests.ConnectionError("refused"), "could not connect"),
        (requests.exceptions.ConnectTimeout("slow"), "timed out while connecting"),
        (requests.exceptions.ReadTimeout("slow"), "read timeout"),
        (requests.exceptions.ChunkedEncodingError("cut"), "truncated"),
        (requests.exceptions.SSLError("cert"), "REQUESTS_CA_BUNDLE"),
    ],
)
def test_transport_errors_mapped(
    mock: responses.RequestsMock, client: WatchClient, exc: Exception, says: str
) -> None:
    mock.get(f"{API}/queries/1", body=exc)
    with pytest.raises(TransportError) as info:
        client.get_query(1)
    assert says in str(info.value)
    assert "GET /api/queries/1" in str(info.value)
    assert isinstance(info.value, ServerError)


# -- real HTTP on 127.0.0.1: retries, Retry-After, transport failures ----------------------
class _Script:
    """Responses the local server plays in order; it records what it received."""

    def __init__(self) -> None:
        self.replies: list[tuple[int, dict[str, str], bytes, float]] = []
        self.received: list[tuple[str, str, dict[str, str]]] = []

    def add(
        self, status: int, body: Any = None, headers: dict[str, str] | None = None, delay: float = 0
    ) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.replies.append(
            (status, {"Content-Type": "application/json", **(headers or {})}, raw, delay)
        )


@pytest.fixture
def local() -> Iterator[tuple[str, _Script]]:
    script = _Script()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            script.received.append((self.command, self.path, dict(self.headers)))
            status, headers, raw, delay = script.replies.pop(0)
            if delay:
                threading.Event().wait(delay)
            self.send_response(status)
            truncated = headers.pop("X-Truncate", None)
            for name, value in headers.items():
                self.send_header(name, value)
            stall = float(headers.pop("X-Stall", 0))
            self.send_header("Content-Length", str(len(raw) * (10 if truncated else 1)))
            self.end_headers()
            if stall:  # half the body, then silence
                self.wfile.write(raw[: len(raw) // 2])
                self.wfile.flush()
                threading.Event().wait(stall)
                raw = raw[len(raw) // 2 :]
            self.wfile.write(raw)
            if truncated:
                self.wfile.flush()
                self.close_connection = True

        do_GET = do_POST = do_DELETE = _serve

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.handle_error = lambda *args: None  # the client hanging up early is expected here
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", script
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """urllib3's retry sleeps, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr(urllib3.util.retry.time, "sleep", recorded.append)
    return recorded


def test_wire_headers(local: tuple[str, _Script]) -> None:
    url, script = local
    script.add(200, sample_body("38-data-sources"))
    with WatchClient(url, SECRET) as watch:
        watch.list_data_sources()
    method, path, headers = script.received[0]
    assert (method, path) == ("GET", "/api/data_sources")
    assert headers["Authorization"] == f"Key {SECRET}"
    assert headers["User-Agent"].startswith("watch-pandas/")


def test_get_retried_on_503_honouring_retry_after(
    local: tuple[str, _Script], sleeps: list[float]
) -> None:
    url, script = local
    script.add(503, {"message": "busy"}, {"Retry-After": "2"})
    script.add(200, sample_body("10-job-finished"))
    with WatchClient(url, SECRET, retries=3, backoff_factor=0) as watch:
        assert watch.get_job(JOB_ID).status is JobStatus.FINISHED
    assert len(script.received) == 2
    assert sleeps == [2.0]


def test_retry_after_is_capped(local: tuple[str, _Script], sleeps: list[float]) -> None:
    url, script = local
    script.add(429, {"message": "slow down"}, {"Retry-After": "3600"})
    script.add(200, sample_body("38-data-sources"))
    with WatchClient(url, SECRET, retries=1) as watch:
        watch.list_data_sources()
    assert sleeps == [60.0]


def test_retries_exhausted_is_server_error(local: tuple[str, _Script], sleeps: list[float]) -> None:
    url, script = local
    for _ in range(4):
        script.add(502, b"<html>bad gateway</html>", {"Content-Type": "text/html"})
    with WatchClient(url, SECRET, retries=3, backoff_factor=0.5) as watch:
        with pytest.raises(ServerError) as info:
            watch.get_query(1)
    assert len(script.received) == 4
    assert "HTTP 502" in str(info.value) and "after 3 retries" in str(info.value)
    assert not isinstance(info.value, TransportError)
    # urllib3 retries the first time at once, then backs off exponentially.
    assert sleeps == [1.0, 2.0]


def test_post_not_retried_on_503(local: tuple[str, _Script], sleeps: list[float]) -> None:
    url, script = local
    script.add(503, {"message": "busy"}, {"Retry-After": "1"})
    script.add(200, sample_body("08-results-post-max-age-0"))  # must not be reached
    with WatchClient(url, SECRET, retries=3) as watch:
        with pytest.raises(ServerError, match="HTTP 503"):
            watch.post_query_results(1, max_age=0)
    assert len(script.received) == 1
    assert sleeps == []


def test_delete_job_retried(local: tuple[str, _Script], sleeps: list[float]) -> None:
    url, script = local
    script.add(504, {"message": "gateway timeout"})
    script.add(200, None)
    with WatchClient(url, SECRET, retries=2, backoff_factor=0) as watch:
        watch.cancel_job(JOB_ID)
    assert [r[0] for r in script.received] == ["DELETE", "DELETE"]


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _retry_warnings(caplog: pytest.LogCaptureFixture) -> int:
    return sum("Retrying" in r.getMessage() for r in caplog.records)


def test_connection_refused_is_transport_error(
    closed_port: int, sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    with WatchClient(f"http://127.0.0.1:{closed_port}", SECRET, retries=2) as watch:
        with pytest.raises(TransportError) as info:
            watch.get_query(1)
    assert "could not connect" in str(info.value) and "after 2 retries" in str(info.value)
    assert SECRET not in str(info.value)
    assert _retry_warnings(caplog) == 2  # connection errors were retried


def test_post_retried_when_connection_refused(
    closed_port: int, sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    # Nothing was sent, so re-trying the connection is safe even for a POST.
    with WatchClient(f"http://127.0.0.1:{closed_port}", SECRET, retries=1) as watch:
        with pytest.raises(TransportError):
            watch.post_query_results(1, max_age=0)
    assert _retry_warnings(caplog) == 1


@pytest.mark.parametrize("retries", [0, 1])
def test_read_timeout_is_transport_error(
    local: tuple[str, _Script], sleeps: list[float], retries: int
) -> None:
    url, script = local
    for _ in range(retries + 1):
        script.add(200, sample_body("10-job-finished"), delay=0.5)
    with WatchClient(url, SECRET, retries=retries, timeout=(5, 0.1)) as watch:
        with pytest.raises(TransportError, match="read timeout"):
            watch.get_job(JOB_ID)


def test_post_not_retried_after_read_timeout(local: tuple[str, _Script]) -> None:
    url, script = local
    script.add(200, sample_body("08-results-post-max-age-0"), delay=0.5)
    with WatchClient(url, SECRET, retries=3, timeout=(5, 0.1)) as watch:
        with pytest.raises(TransportError, match="read timeout"):
            watch.post_query_results(1, max_age=0)
    assert len(script.received) == 1


def test_truncated_body_is_transport_error(local: tuple[str, _Script]) -> None:
    url, script = local
    script.add(200, b'{"query_result": {"data"', {"X-Truncate": "1"})
    with WatchClient(url, SECRET, retries=0) as watch:
        with pytest.raises(TransportError, match="truncated"):
            watch.get_result(61)


# -- streamed result bodies ------------------------------------------------------------------
def test_post_results_stream_hands_back_the_body_as_chunks(
    mock: responses.RequestsMock, client: WatchClient
) -> None:
    from watch_pandas._client import ResultBody
    from watch_pandas._decode import decode_result, read_result

    raw = json.dumps(sample_body("27-typed-pg-json")).encode()
    mock.post(f"{API}/queries/1/results", body=raw, content_type="application/json")
    answer = client.post_query_results(1, stream=True)
    assert answer.job is None and isinstance(answer.body, ResultBody)
    assert SECRET not in repr(answer.body)
    df, meta = read_result(answer.body)
    expected, expected_meta = decode_result(raw)
    pd.testing.assert_frame_equal(df, expected)
    assert meta == expected_meta


def test_post_results_stream_still_parses_a_job(
    mock: responses.RequestsMock, client: WatchClient
) -> None:
    sample = sample_body("08-results-post-max-age-0")
    mock.post(f"{API}/queries/1/results", json=sample)
    answer = client.post_query_results(1, max_age=0, stream=True)
    assert answer.body is None and answer.job.id == sample["job"]["id"]


def test_open_result_reads_the_whole_body_once(
    mock: responses.RequestsMock, client: WatchClient
) -> None:
    raw = json.dumps(sample_body("27-typed-pg-json")).encode()
    mock.get(f"{API}/query_results/61.json", body=raw, content_type="application/json")
    body = client.open_result(61)
    assert body.read() == raw
    with pytest.raises(RuntimeError, match="already read"):
        body.read()


def test_result_body_broken_mid_way_is_a_transport_error() -> None:
    from watch_pandas._client import ResultBody
    from watch_pandas.errors import TransportError

    def broken():
        yield b'{"query_result": {"data": {"rows": [{"a": 1},'
        raise requests.exceptions.ChunkedEncodingError("connection reset")

    closed = []
    response = SimpleNamespace(close=lambda: closed.append(True), headers={})
    body = ResultBody(b"", broken(), response, lambda exc: TransportError(f"cut: {exc}"))
    with pytest.raises(TransportError, match="cut: connection reset"):
        body.read()
    assert closed


@pytest.mark.parametrize(
    ("route", "body", "call"),
    [
        ("queries/5", {"name": "no id"}, lambda w: w.get_query(5)),
        ("data_sources", [{"name": "no id"}], lambda w: w.list_data_sources()),
        ("jobs/j1", {"job": {"id": "j1", "status": "weird"}}, lambda w: w.get_job("j1")),
    ],
)
def test_a_malformed_object_is_a_server_error_not_a_key_error(
    mock: responses.RequestsMock, client: WatchClient, route, body, call
) -> None:
    mock.get(f"{API}/{route}", json=body)
    with pytest.raises(ServerError):
        call(client)


def _truncated(body: Any) -> tuple[int, bytes, dict[str, str]]:
    """A 200 reply whose connection closes before the announced Content-Length arrived."""
    return 200, json.dumps(body).encode(), {"X-Truncate": "1"}


def test_a_truncated_job_reply_is_fetched_again(
    local: tuple[str, _Script], sleeps: list[float]
) -> None:
    url, script = local
    script.add(*_truncated(sample_body("10-job-finished")))
    script.add(200, sample_body("10-job-finished"))
    with WatchClient(url, SECRET, retries=3, backoff_factor=0.5) as watch:
        assert watch.get_job(JOB_ID).status is JobStatus.FINISHED
    assert [r[:2] for r in script.received] == [("GET", f"/api/jobs/{JOB_ID}")] * 2
    assert sleeps == []  # urllib3's backoff: the first retry is immediate


def test_a_body_that_keeps_breaking_is_retried_with_backoff_then_says_how_often(
    local: tuple[str, _Script], sleeps: list[float]
) -> None:
    url, script = local
    for _ in range(4):
        script.add(*_truncated(sample_body("03-queries-list")))
    with WatchClient(url, SECRET, retries=3, backoff_factor=0.5) as watch:
        with pytest.raises(TransportError) as info:
            watch.get_query(1)
    assert len(script.received) == 4
    assert sleeps == [1.0, 2.0]
    assert "connection broke while the body was arriving" in str(info.value)
    assert "(after 3 retries)" in str(info.value)
    assert SECRET not in str(info.value)


def test_a_truncated_reply_to_a_post_is_not_repeated(local: tuple[str, _Script]) -> None:
    url, script = local
    script.add(*_truncated(sample_body("03-queries-list")))
    with WatchClient(url, SECRET, retries=3, backoff_factor=0) as watch:
        with pytest.raises(TransportError, match="truncated") as info:
            watch.edit_query(1, name="x")
    assert len(script.received) == 1
    assert "retries" not in str(info.value)


@pytest.mark.parametrize("size", [100, 3_000_000], ids=["first-chunk", "while-decoding"])
def test_a_broken_result_download_is_decoded_again_from_a_fresh_download(
    local: tuple[str, _Script], size: int
) -> None:
    url, script = local
    document = {"query_result": {"id": 61, "text": "x" * size}}
    script.add(*_truncated(document))  # big: breaks after `use` has read megabytes of it
    script.add(200, document)
    read = []

    def decode(body):
        chunks = []
        try:
            for chunk in body:
                chunks.append(chunk)
        finally:
            read.append(sum(map(len, chunks)))
        return json.loads(b"".join(chunks))

    with WatchClient(url, SECRET, retries=1, backoff_factor=0) as watch:
        assert watch.with_result(61, decode) == document
    assert [r[:2] for r in script.received] == [("GET", "/api/query_results/61.json")] * 2
    whole = len(json.dumps(document))
    assert read[-1] == whole  # the decode started over on the fresh download
    if size > 1_000_000:
        assert len(read) == 2 and read[0] < whole  # the first decode saw only a part


def test_a_body_that_stalls_mid_way_is_a_read_timeout_not_a_refused_connection(
    local: tuple[str, _Script],
) -> None:
    url, script = local
    script.add(200, sample_body("10-job-finished"), {"X-Stall": "1"})
    with WatchClient(url, SECRET, retries=0, timeout=(5, 0.2)) as watch:
        with pytest.raises(TransportError, match=r"read timeout \(0.2 s\)") as info:
            watch.get_job(JOB_ID)
    assert "could not connect" not in str(info.value)


@pytest.mark.parametrize("status", [429, 503])
def test_a_retry_after_beyond_the_deadline_names_the_status_and_the_wait(
    local: tuple[str, _Script], sleeps: list[float], status: int
) -> None:
    url, script = local
    script.add(status, {"message": "busy"}, {"Retry-After": "30"})
    with WatchClient(url, SECRET, retries=3, timeout=2) as watch, deadline(2):
        with pytest.raises(WatchTimeoutError) as info:
            watch.get_job(JOB_ID)
    message = str(info.value)
    assert f"GET /api/jobs/{JOB_ID}: the server answered {status} with Retry-After: 30 s" in message
    assert "s left before the overall deadline (timeout=)" in message
    assert "before the server answered" not in message
    assert len(script.received) == 1 and sleeps == []


def test_an_error_reply_whose_body_breaks_off_is_still_the_typed_error(
    local: tuple[str, _Script],
) -> None:
    url, script = local
    script.add(500, {"message": "boom"}, {"X-Truncate": "1"})
    with WatchClient(url, SECRET, retries=0) as watch:
        with pytest.raises(ServerError, match="HTTP 500") as info:
            watch.post_query_results(1, max_age=0, stream=True)
    assert len(script.received) == 1  # a POST is not repeated
    assert "requests" not in type(info.value).__module__
