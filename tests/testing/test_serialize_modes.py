"""``serialize="per-request"``: result bodies built whole from the stored rows per request, as
Redash's handlers do; the bytes are the same as the default streamed ("stored") mode's."""

from __future__ import annotations

import json

import pytest
from local_watch_helpers import call, fill_demo_table, run_saved

from watch_pandas.testing import LocalWatch, _serialize

EDGE_ROWS = """
CREATE TABLE edge (n INTEGER, label TEXT, wei BIGNUM TEXT, d DATE, ts TIMESTAMP, ok BOOLEAN);
INSERT INTO edge VALUES
  (1, 'ünïcode "quoted", comma', '115792089237316195423570985008687907853269984665640564039457584007913129639935',
   '2024-01-02', '2024-01-01 00:00:00.999999', 1),
  (2, NULL, '-1180591620717411303424', NULL, NULL, 0),
  (3, 'line
break', NULL, '9999-12-31', '2024-01-01 09:30:00', NULL);
"""  # noqa: E501


def _bodies(lw: LocalWatch, qid: int, rid: int) -> dict[str, tuple[bytes, str | None, str]]:
    """Every result route's body, Content-Length and Content-Type."""
    query_key = lw.query_key(qid)
    replies = {
        "json by id": call(lw, "GET", f"/api/query_results/{rid}.json"),
        "csv by id": call(lw, "GET", f"/api/query_results/{rid}.csv"),
        "tsv by id": call(lw, "GET", f"/api/query_results/{rid}.tsv"),
        "json by query": call(lw, "GET", f"/api/queries/{qid}/results.json"),
        "inline POST": call(lw, "POST", f"/api/queries/{qid}/results", json={"max_age": -1}),
        "inline POST, query key (trimmed)": call(
            lw, "POST", f"/api/queries/{qid}/results", query_key, json={"max_age": -1}
        ),
    }
    out = {}
    for name, reply in replies.items():
        assert reply.status_code == 200, (name, reply.text)
        out[name] = (
            reply.content,
            reply.headers.get("Content-Length"),
            reply.headers["Content-Type"],
        )
    return out


@pytest.fixture
def saved_result(tmp_path):
    """A data folder holding an executed query over edge-case rows: (db path, query, result)."""
    db = tmp_path / "watch.sqlite"
    with LocalWatch(db=db) as lw:
        ds = lw.add_data_source("typed", typed=True)
        lw.execute_sql(ds, EDGE_ROWS)
        qid = lw.add_query("SELECT * FROM edge ORDER BY n", ds, name="edge")
        rid = run_saved(lw, qid)["query_result_id"]
        stored = _bodies(lw, qid, rid)
    return db, qid, rid, stored


def test_per_request_bodies_carry_the_stored_bodies_exactly(saved_result):
    db, qid, rid, stored = saved_result
    with LocalWatch(db=db, serialize="per-request") as lw:
        rendered = _bodies(lw, qid, rid)
    assert rendered.keys() == stored.keys()
    for name in stored:
        body, _, content_type = rendered[name]
        assert content_type == stored[name][2], name
        if name.endswith(("csv by id", "tsv by id")):
            assert body == stored[name][0], name
        else:  # same document and key order; rows joined by ", " as json.dumps does
            assert json.loads(body) == json.loads(stored[name][0]), name
            assert list(json.loads(body)["query_result"]) == list(
                json.loads(stored[name][0])["query_result"]
            )
            assert b"}, {" in body
    # the values survived the load + dump round trip (the wei integer stays exact)
    assert (
        b"115792089237316195423570985008687907853269984665640564039457584007913129639935"
        in (rendered["json by id"][0])
    )


def test_per_request_body_is_whole_before_sending_with_its_length(saved_result):
    db, qid, rid, _ = saved_result
    with LocalWatch(db=db, serialize="per-request") as lw:
        for name, (body, length, _) in _bodies(lw, qid, rid).items():
            assert length == str(len(body)), name  # CSV too: built whole, so its length is known


def test_per_request_encodes_from_the_rows_and_never_streams_stored_bytes(
    saved_result, monkeypatch
):
    db, qid, rid, stored = saved_result

    def no_streaming(*args, **kwargs):
        raise AssertionError("the stored bytes were streamed")

    dumped = []
    real_dumps = _serialize.json.dumps

    def counting_dumps(obj, *args, **kwargs):
        dumped.append(obj)
        return real_dumps(obj, *args, **kwargs)

    monkeypatch.setattr(_serialize, "result_json", no_streaming)
    monkeypatch.setattr(_serialize.json, "dumps", counting_dumps)
    with LocalWatch(db=db, serialize="per-request") as lw:
        first = call(lw, "GET", f"/api/query_results/{rid}.json")
        second = call(lw, "GET", f"/api/query_results/{rid}.json")
    assert first.content == second.content
    assert json.loads(first.content) == json.loads(stored["json by id"][0])
    whole = [obj for obj in dumped if isinstance(obj, dict) and "query_result" in obj]
    assert len(whole) == 2  # one full encoding per request, nothing kept between them
    assert len(whole[0]["query_result"]["data"]["rows"]) == 3


def test_stored_mode_stays_the_default_and_streams(local_watch):
    ds = local_watch.add_data_source("demo-sqlite")
    fill_demo_table(local_watch, ds, rows=5)
    qid = local_watch.add_query("SELECT * FROM demo", ds)
    rid = run_saved(local_watch, qid)["query_result_id"]
    reply = call(local_watch, "GET", f"/api/query_results/{rid}.csv")
    assert reply.status_code == 200
    assert "Content-Length" not in reply.headers  # CSV is streamed as it is written


def test_unknown_serialize_mode_is_refused_with_the_choices():
    with pytest.raises(ValueError, match=r"'stored', 'per-request'.*not 'lazy'"):
        LocalWatch(serialize="lazy")


def test_mode_can_be_switched_on_a_running_server(saved_result):
    db, qid, rid, _ = saved_result
    with LocalWatch(db=db) as lw:
        assert lw.serialize == "stored"
        streamed = call(lw, "GET", f"/api/query_results/{rid}.json").content
        lw.serialize = "per-request"
        rendered = call(lw, "GET", f"/api/query_results/{rid}.json").content
        with pytest.raises(ValueError, match="per-request"):
            lw.serialize = "never"
        assert lw.serialize == "per-request"
    assert b'}, {"n": 2' in rendered and b'},{"n": 2' in streamed  # json.dumps vs stored rows
    assert json.loads(rendered) == json.loads(streamed)


def test_cli_serve_takes_the_mode(monkeypatch):
    from watch_pandas import _cli as cli

    seen = {}
    monkeypatch.setattr("watch_pandas.testing.serve", lambda **kw: seen.update(kw))
    assert cli.main(["serve", "--port", "0", "--serialize", "per-request"]) == 0
    assert seen["serialize"] == "per-request"
