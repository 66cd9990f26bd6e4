"""read_watch_url over real HTTP against the local server: every link form, the key taken out
of the URL and absent from every output; the server's link routes as the real one answers them
(samples 72-78)."""

from __future__ import annotations

import logging

import pandas as pd
import pytest
import requests

from watch_pandas import AuthError, NotFoundError, WatchClient, read_watch_url
from watch_pandas.testing import LocalWatch


@pytest.fixture(autouse=True)
def _no_configured_server(monkeypatch, tmp_path):
    monkeypatch.setenv("WATCH_CONFIG", str(tmp_path / "no-config.toml"))
    for name in ("WATCH_URL", "WATCH_API_KEY", "WATCH_PROFILE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def sent_urls(monkeypatch) -> list[str]:
    """Every URL the client sends (requests' Session.send), to check no key is in one."""
    urls: list[str] = []
    original = requests.Session.send

    def send(self, request, **kwargs):
        urls.append(request.url)
        return original(self, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", send)
    return urls


def latest_result_id(lw: LocalWatch, query_id: int) -> int:
    reply = requests.get(
        f"{lw.url}/api/queries/{query_id}", headers={"Authorization": f"Key {lw.admin_key}"}
    )
    return int(reply.json()["latest_query_data_id"])


def expected(read, query_id: int, params=None) -> pd.DataFrame:
    return read(query_id, params)


# -- the server's link routes, as the real server answers them ---------------------------------
def test_link_routes_take_the_key_from_the_url_as_the_real_server_does(lw):
    qid = lw.demo.queries["prices"]
    other = lw.demo.queries["markets"]
    rid = latest_result_id(lw, qid)
    user, query_key, other_key = lw.admin_key, lw.query_key(qid), lw.query_key(other)

    def status(path: str, key: str) -> int:
        return requests.get(f"{lw.url}{path}?api_key={key}", timeout=30).status_code

    assert status(f"/api/query_results/{rid}.csv", user) == 200  # 72
    assert status(f"/api/queries/{qid}/results.json", user) == 200  # 73
    assert status(f"/api/query_results/{rid}.json", query_key) == 404  # 74
    assert status(f"/api/queries/{qid}/results.csv", query_key) == 200  # 75
    assert status(f"/api/queries/{qid}/results/{rid}.json", query_key) == 200  # 76
    assert status(f"/api/queries/{qid}/results.csv", "0" * 40) == 404  # 77
    assert status(f"/api/queries/{qid}/results.csv", other_key) == 404  # 78
    refused = requests.get(f"{lw.url}/api/query_results/{rid}.json?api_key={query_key}")
    assert "Please login" in refused.json()["message"]


# -- every link form ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "form",
    [
        "/api/query_results/{rid}.csv",
        "/api/query_results/{rid}.json",
        "/api/queries/{qid}/results.json",
        "/api/queries/{qid}/results.csv",
        "/api/queries/{qid}/results/{rid}.json",
        "/queries/{qid}",
        "/queries/{qid}/source",
    ],
)
def test_each_link_form_reads_the_typed_frame(lw, read, form, caplog, tmp_path, sent_urls):
    qid = lw.demo.queries["prices"]
    rid = latest_result_id(lw, qid)
    key = lw.admin_key
    link = f"{lw.url}{form.format(qid=qid, rid=rid)}?api_key={key}"
    events = []
    with caplog.at_level(logging.DEBUG):
        frame = read_watch_url(link, progress=events.append, cache_dir=tmp_path / "cache")
    pd.testing.assert_frame_equal(frame, expected(read, qid), check_like=False)
    assert frame.attrs["watch"]["server"] == lw.url
    assert key not in repr(frame.attrs) and key not in caplog.text
    assert events and all(key not in repr(event) for event in events)
    assert all(key not in path.name for path in (tmp_path / "cache").rglob("*"))
    assert sent_urls and all("api_key" not in u and key not in u for u in sent_urls)


def test_a_query_key_reads_the_links_that_name_its_query(lw, read):
    qid = lw.demo.queries["prices"]
    rid = latest_result_id(lw, qid)
    key = lw.query_key(qid)
    for form in (f"/api/queries/{qid}/results.csv", f"/api/queries/{qid}/results/{rid}.json"):
        frame = read_watch_url(f"{lw.url}{form}?api_key={key}", progress=False, cache=False)
        pd.testing.assert_frame_equal(frame, expected(read, qid))


def test_a_result_link_with_a_query_key_says_which_link_works(lw):
    qid = lw.demo.queries["prices"]
    rid = latest_result_id(lw, qid)
    key = lw.query_key(qid)
    with pytest.raises(AuthError) as caught:
        read_watch_url(f"{lw.url}/api/query_results/{rid}.csv?api_key={key}", progress=False)
    message = str(caught.value)
    assert "/api/queries/<query id>/results.json" in message and key not in message
    assert key not in repr(caught.value.__dict__)


def test_a_wrong_key_in_a_link_is_an_auth_error_without_the_key(lw):
    qid = lw.demo.queries["prices"]
    with pytest.raises(AuthError) as caught:
        read_watch_url(f"{lw.url}/queries/{qid}?api_key=WRONG-KEY-123", progress=False)
    assert "WRONG-KEY-123" not in str(caught.value)


def test_a_result_of_another_query_says_the_ids_do_not_belong_together(lw):
    # With a query key the server refuses a result whose query hash is not the query's own
    # ("No cached result"); running the query again would not help, so it must not say so.
    qid, other = lw.demo.queries["prices"], lw.demo.queries["markets"]
    foreign = latest_result_id(lw, other)
    api_key = lw.query_key(qid)
    link = f"{lw.url}/api/queries/{qid}/results/{foreign}.json?api_key={api_key}"
    with pytest.raises(NotFoundError) as caught:
        read_watch_url(link, progress=False, cache=False)
    message = str(caught.value)
    assert f"result {foreign}" in message and f"query {qid}" in message
    assert f"/api/queries/{qid}/results.json" in message  # the form that reads its latest
    assert "max_age=0" not in message and api_key not in message


def test_a_query_page_link_with_parameters_equals_the_same_read(lw, read):
    qid = lw.demo.queries["price_history"]
    link = (
        f"{lw.url}/queries/{qid}/source?p_period=2024-02-01--2024-02-10"
        f"&p_symbols=%5B%22WETH%22%2C%22DAI%22%5D&p_min_price=1&api_key={lw.admin_key}#7"
    )
    frame = read_watch_url(link, progress=False, cache=False)
    params = {
        "period": {"start": "2024-02-01", "end": "2024-02-10"},
        "symbols": ["WETH", "DAI"],
        "min_price": 1,
    }
    pd.testing.assert_frame_equal(frame, expected(read, qid, params))
    assert frame.attrs["watch"]["parameters"]["period"] == params["period"]
    older = (
        f"{lw.url}/queries/{qid}?p_period.start=2024-02-01&p_period.end=2024-02-10"
        f"&p_symbols=%5B%22WETH%22%2C%22DAI%22%5D&p_min_price=1&api_key={lw.admin_key}"
    )
    pd.testing.assert_frame_equal(
        read_watch_url(older, progress=False, cache=False), expected(read, qid, params)
    )


def test_a_dashboard_link_reads_every_widget_with_its_parameters(lw, read, sent_urls):
    board_id = lw.demo.dashboards["defi_overview"]
    slug = lw.demo.dashboard_slugs["defi_overview"]
    history = lw.demo.queries["price_history"]
    with WatchClient(lw.url, lw.admin_key) as client:
        widgets = client.get_dashboard(board_id).widgets
    widget = next(w for w in widgets if w.query is not None and w.query.id == history)
    key = lw.admin_key
    period = {"start": "2024-02-01", "end": "2024-02-03"}
    for page in (f"/dashboard/{slug}", f"/dashboards/{board_id}-{slug}"):
        frames = read_watch_url(
            f"{lw.url}{page}?p_period=2024-02-01--2024-02-03&api_key={key}",
            progress=False,
            cache=False,
        )
        assert set(frames) == {w.title for w in widgets if w.query is not None}
        pd.testing.assert_frame_equal(
            frames[widget.title], expected(read, history, {"period": period})
        )
        assert key not in repr(frames) and key not in repr(frames.dashboard)
    assert all(key not in u for u in sent_urls)


# -- output= as on every read ---------------------------------------------------------------------
@pytest.mark.parametrize("form", ["/api/query_results/{rid}.csv", "/queries/{qid}"])
def test_a_link_reads_as_arrow_and_polars_equal_to_the_frame(lw, read, form, tmp_path):
    import polars as pl
    import pyarrow as pa

    qid = lw.demo.queries["prices"]
    link = f"{lw.url}{form.format(qid=qid, rid=latest_result_id(lw, qid))}?api_key={lw.admin_key}"
    table = read_watch_url(link, output="arrow", cache_dir=tmp_path / "cache")
    assert isinstance(table, pa.Table)
    assert lw.admin_key not in repr(table.schema.metadata)
    frame = read_watch_url(link, output="polars", cache_dir=tmp_path / "cache")
    assert isinstance(frame, pl.DataFrame)
    expected_table = read_watch_query_output(lw, qid, tmp_path)
    assert table.select(expected_table.column_names).equals(expected_table)
    assert frame.equals(pl.from_arrow(expected_table))


def read_watch_query_output(lw: LocalWatch, query_id: int, tmp_path) -> object:
    from watch_pandas import read_watch_query

    return read_watch_query(
        query_id, url=lw.url, api_key=lw.admin_key, output="arrow", cache_dir=tmp_path / "q"
    )


def test_a_bad_output_for_a_link_is_refused_before_any_request(lw, sent_urls):
    from watch_pandas import ConfigError

    with pytest.raises(ConfigError, match="'pandas', 'arrow'"):
        read_watch_url(f"{lw.url}/queries/1?api_key={lw.admin_key}", output="excel")
    assert sent_urls == []
