"""``WatchClient.save_query`` on mocked HTTP (``responses``, bodies from the recorded samples):
which requests a create and an update send, the version it edits with, the 409 and the
client's own check for a query changed since this client read it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from _samples import sample_body

from watch_pandas._client import WatchClient
from watch_pandas.errors import ConfigError, ConflictError, ForbiddenError, ParameterError
from watch_pandas.models import Query

BASE = "https://watch.example.org"
API = f"{BASE}/api"
SECRET = "SECRETKEY123abcdefXYZ"
# the web framework's stock text of a bare 409 (docs/protocol.md#queries)
CONFLICT_TEXT = (
    "A conflict happened while processing the request. The resource might have been "
    "modified while the request was being processed."
)


@pytest.fixture(autouse=True)
def no_watch_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    for name in ("WATCH_URL", "WATCH_API_KEY", "WATCH_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WATCH_CONFIG", str(tmp_path / "absent.toml"))


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    """HTTP mock; every request must carry the key in its header and nowhere in the URL."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps
        for call in rsps.calls:
            assert call.request.headers["Authorization"] == f"Key {SECRET}"
            assert SECRET not in call.request.url


@pytest.fixture
def client() -> Iterator[WatchClient]:
    with WatchClient(BASE, SECRET, retries=0) as watch:
        yield watch


def sent(call: Any) -> Any:
    return json.loads(call.request.body)


def data_sources(mock: responses.RequestsMock) -> None:
    mock.get(f"{API}/data_sources", json=sample_body("38-data-sources"))


def existing(**changes: Any) -> dict[str, Any]:
    """Query 2 as the server answers it (sample 06), with ``changes``."""
    body = sample_body("06-query-demo-params")
    body["options"]["apply_auto_limit"] = False
    return {**body, **changes}


def my_queries(mock: responses.RequestsMock, *queries: dict[str, Any]) -> None:
    listed = [{k: v for k, v in q.items() if k != "visualizations"} for q in queries]
    mock.get(
        f"{API}/queries/my",
        json={"count": len(listed), "page": 1, "page_size": 250, "results": listed},
    )


SQL = "SELECT * FROM demo WHERE d >= '{{ start_date }}' AND price >= {{ min_price }}"
PARAMS = {"start_date": date(2024, 5, 1), "min_price": 3}


def test_update_by_name_edits_with_the_version_it_read_and_keeps_other_options(mock, client):
    source = sample_body("38-data-sources")[0]
    data_sources(mock)
    my_queries(mock, existing(), existing(id=5, name="another"))
    mock.get(f"{API}/queries/2", json=existing())
    mock.post(f"{API}/queries/2", json=existing(query=SQL))
    client.get_query(2)  # by name, only a query this client has seen is updated

    saved = client.save_query(SQL, "demo params", source["name"], parameters=PARAMS)

    assert saved.id == 2 and saved.query == SQL
    listing = parse_qs(urlsplit(mock.calls[2].request.url).query)
    assert listing["page_size"] == ["250"]
    body = sent(mock.calls[-1])
    assert body["version"] == 1 and body["query"] == SQL and body["name"] == "demo params"
    assert body["data_source_id"] == source["id"]
    assert body["options"]["apply_auto_limit"] is False  # the query's other options stay
    defaults = {p["name"]: p["value"] for p in body["options"]["parameters"]}
    assert defaults == {"start_date": "2024-05-01", "min_price": 3}
    assert body["options"]["parameters"][0]["title"] == "Start date"  # the saved one, kept
    assert "is_draft" not in body and "tags" not in body  # not asked: left as they are
    assert "visualizations" not in body


def test_a_409_is_a_conflict_saying_someone_else_changed_it(mock, client):
    data_sources(mock)
    my_queries(mock, existing())
    mock.get(f"{API}/queries/2", json=existing())
    mock.post(f"{API}/queries/2", json={"message": CONFLICT_TEXT}, status=409)
    client.get_query(2)

    with pytest.raises(ConflictError) as caught:
        client.save_query(SQL, "demo params", 1, parameters=PARAMS)

    message = str(caught.value)
    assert "someone else" in message and "query 2" in message.lower()
    assert SECRET not in message and SECRET not in repr(caught.value)


def test_a_query_changed_since_this_client_read_it_is_a_conflict_and_nothing_is_sent(mock, client):
    mock.get(f"{API}/queries/2", json=existing())
    data_sources(mock)
    mock.get(
        f"{API}/queries/2",
        json=existing(
            updated_at="2026-11-29T10:00:00.000Z",
            query="SELECT 2",
            last_modified_by={**existing()["user"], "id": 7, "name": "Dana"},
        ),
    )
    read = client.get_query(2)

    with pytest.raises(ConflictError) as caught:
        client.save_query(SQL, "demo params", 1, parameters=PARAMS, query=read.id)

    message = str(caught.value)
    assert "someone else" in message and "Dana" in message and "2026-11-29" in message
    assert "nothing was saved" in message
    assert all(call.request.method == "GET" for call in mock.calls)


def test_a_query_object_given_is_the_version_it_was_read_at(mock, client):
    data_sources(mock)
    mock.get(f"{API}/queries/2", json=existing(updated_at="2026-11-29T10:00:00.000Z", tags=["x"]))
    before = Query.from_json(existing())  # what an earlier read gave

    with pytest.raises(ConflictError, match="since"):
        client.save_query(SQL, "demo params", 1, parameters=PARAMS, query=before)


def test_several_own_queries_with_the_name_are_a_conflict_listing_their_ids(mock, client):
    data_sources(mock)
    my_queries(mock, existing(id=12), existing(id=15), existing(id=20, name="other"))

    with pytest.raises(ConflictError) as caught:
        client.save_query(SQL, "demo params", 1, parameters=PARAMS)

    message = str(caught.value)
    assert "12" in message and "15" in message and "20" not in message
    assert "query=" in message  # how to pick one


def test_create_when_none_of_my_queries_has_the_name_then_publish(mock, client):
    data_sources(mock)
    my_queries(mock, existing(name="something else"))
    created = existing(id=31, name="Daily volume", query=SQL, is_draft=True)
    mock.post(f"{API}/queries", json=created)
    mock.post(f"{API}/queries/31", json={**created, "is_draft": False})

    saved = client.save_query(
        SQL, "Daily volume", 1, parameters=PARAMS, tags=["notebook"], publish=True
    )

    assert saved.id == 31 and not saved.is_draft
    body = sent(mock.calls[2])
    assert body["name"] == "Daily volume" and body["tags"] == ["notebook"]
    assert [p["type"] for p in body["options"]["parameters"]] == ["date", "number"]
    assert sent(mock.calls[3]) == {"is_draft": False, "version": 1}


def test_bad_arguments_are_refused_before_any_request(client):
    with pytest.raises(ConfigError, match="name"):
        client.save_query("SELECT 1", "  ", 1)
    with pytest.raises(ConfigError, match="SQL"):
        client.save_query("", "x", 1)
    with pytest.raises(ConfigError, match="tags"):
        client.save_query("SELECT 1", "x", 1, tags="daily")
    with pytest.raises(ParameterError, match="default"):
        client.save_query("SELECT {{ n }}", "x", 1)
    with pytest.raises(ConfigError, match="query="):
        client.save_query("SELECT 1", "x", 1, query=[3])


def test_a_query_key_cannot_save(monkeypatch):
    with WatchClient(BASE, SECRET, retries=0, key_kind="query") as watch:
        with pytest.raises(ForbiddenError, match="user API key"):
            watch.save_query("SELECT 1", "x", 1)
