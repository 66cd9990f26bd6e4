"""WatchClient.get_schema on the recorded schema exchanges (samples 45-53), mocked HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses
from _samples import sample_body

from watch_pandas._client import WatchClient
from watch_pandas.errors import NotFoundError, QueryFailedError
from watch_pandas.models import Job, JobStatus, SchemaColumn, SchemaTable

BASE = "https://watch.example.org"
API = f"{BASE}/api"
SECRET = "SECRETKEY123abcdefXYZ"
SOURCES = [
    {"id": 1, "name": "sqlite", "type": "sqlite"},
    {"id": 2, "name": "pg", "type": "pg"},
    {"id": 3, "name": "python", "type": "python"},
]


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.get(f"{API}/data_sources", json=SOURCES)
        yield rsps
        for call in rsps.calls:
            assert SECRET not in call.request.url


@pytest.fixture
def client() -> Iterator[WatchClient]:
    with WatchClient(BASE, SECRET, retries=0) as watch:
        yield watch


def _job_answer(name: str) -> dict:
    """A recorded job body whose id is the one in the URL the client polls."""
    return sample_body(name)


def test_cached_sqlite_schema_is_read_inline_with_plain_column_names(mock, client):
    mock.get(f"{API}/data_sources/1/schema", json=sample_body("45-schema-sqlite-first-get"))
    tables = client.get_schema("sqlite")
    assert tables == [
        SchemaTable(
            "demo",
            tuple(
                SchemaColumn(n)
                for n in ("big_int", "big_text", "d", "flag", "id", "label", "maybe_null")
                + ("price", "ts")
            ),
        )
    ]
    assert "refresh" not in mock.calls[-1].request.url


def test_refresh_polls_the_job_whose_result_is_the_typed_schema(mock, client):
    job = sample_body("49-schema-pg-refresh-job")
    jid = job["job"]["id"]
    mock.get(f"{API}/data_sources/2/schema", json=job)
    mock.get(f"{API}/jobs/{jid}", json=sample_body("50-schema-pg-job-finished"))
    tables = client.get_schema(2, refresh=True)
    assert "refresh=true" in mock.calls[1].request.url
    columns = {c.name: c.type for c in tables[0].columns}
    assert columns["price"] == "double precision"
    assert columns["tstz"] == "timestamp with time zone"
    assert len(columns) == 13


def test_a_source_without_schema_is_a_typed_error_with_the_servers_message(mock, client):
    job = sample_body("52-schema-python-source-job")
    jid = job["job"]["id"]
    mock.get(f"{API}/data_sources/3/schema", json=job)
    mock.get(f"{API}/jobs/{jid}", json=sample_body("53-schema-python-source-job-failed"))
    with pytest.raises(QueryFailedError) as info:
        client.get_schema("python")
    message = str(info.value)
    assert "Data source type does not support retrieving schema" in message
    assert "python" in message
    assert info.value.server_message == "Data source type does not support retrieving schema"


def test_an_unknown_data_source_names_the_available_ones(mock, client):
    with pytest.raises(NotFoundError, match="sqlite .id 1."):
        client.get_schema("nope")


def test_a_job_error_object_becomes_its_message():
    job = Job.from_json(sample_body("53-schema-python-source-job-failed")["job"])
    assert job.status == JobStatus.FAILED
    assert job.error == "Data source type does not support retrieving schema"
