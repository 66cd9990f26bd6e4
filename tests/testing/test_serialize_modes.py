"""``serialize="per-request"``: result bodies built whole from the stored rows per request, as
Redash's handlers do; the bytes are the same as the default streamed ("stored") mode's."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from local_watch_helpers import call, fill_demo_table, run_saved

from watch_pandas.testing import LocalWatch, _renderers, _serialize

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


@pytest.mark.parametrize("web_workers", [1, 2], ids=["built here", "built by web workers"])
def test_per_request_bodies_carry_the_stored_bodies_exactly(saved_result, web_workers):
    db, qid, rid, stored = saved_result
    with LocalWatch(db=db, serialize="per-request", web_workers=web_workers) as lw:
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
    batches = [obj for obj in dumped if isinstance(obj, list) and obj and isinstance(obj[0], dict)]
    assert sum(map(len, batches)) == 2 * 3  # each request dumped the 3 rows afresh


def test_per_request_bodies_are_the_whole_object_dumped_at_once(saved_result):
    """Built in pieces (rows a batch at a time), the body is byte for byte what one
    json.dumps of the whole object gives, as before it was built in pieces."""
    db, qid, rid, _ = saved_result
    with LocalWatch(db=db) as lw:
        result = lw._backend.store.get_result(rid)
        for trimmed in (False, True):
            rows = [json.loads(line) for line in result.rows_path.read_text().splitlines()]
            body: dict = {}
            if not trimmed:
                body.update(id=result.id, query_hash=result.query_hash, query=result.query)
            body["data"] = {"columns": result.columns, "rows": rows}
            if not trimmed:
                body.update(data_source_id=result.data_source_id, runtime=float(result.runtime))
            body["retrieved_at"] = _serialize.iso_z(result.retrieved_at)
            whole = json.dumps({"query_result": body}, ensure_ascii=False, allow_nan=False)
            assert _serialize.result_json_rendered(result, trimmed=trimmed) == whole.encode()


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


# --------------------------------------------------------------------------- web workers


def _held_rows(result_rows: Path) -> Path:
    """The result's rows moved aside and a named pipe put in their place: a web worker
    building this body waits at the pipe until the test writes the rows into it."""
    kept = result_rows.with_name(result_rows.name + ".kept")
    result_rows.rename(kept)
    os.mkfifo(result_rows)
    return kept


def _result_rows(lw: LocalWatch, rid: int) -> Path:
    return lw._backend.store.get_result(rid).rows_path


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_body_asked_for_while_another_is_built_is_not_held_up(saved_result):
    db, qid, rid, stored = saved_result
    with LocalWatch(db=db, serialize="per-request", web_workers=2) as lw:
        source = lw._backend.store.get_result(rid).data_source_id
        other = run_saved(lw, lw.add_query("SELECT n FROM edge", source))["query_result_id"]
        kept = _held_rows(_result_rows(lw, rid))
        first: list[requests.Response] = []
        waiting = threading.Thread(
            target=lambda: first.append(call(lw, "GET", f"/api/query_results/{rid}.json"))
        )
        waiting.start()
        meanwhile = call(lw, "GET", f"/api/query_results/{other}.json")  # not held up
        assert meanwhile.status_code == 200 and not first  # the first is still being built
        with open(_result_rows(lw, rid), "wb") as pipe:
            pipe.write(kept.read_bytes())
        waiting.join(30)
        assert lw._backend.renderers.built_elsewhere == 2
    assert [row["n"] for row in meanwhile.json()["query_result"]["data"]["rows"]] == [1, 2, 3]
    assert first[0].status_code == 200
    assert first[0].headers["Content-Length"] == str(len(first[0].content))
    assert json.loads(first[0].content) == json.loads(stored["json by id"][0])


def test_with_several_web_workers_no_body_is_built_or_copied_by_the_servers_own_process(
    saved_result, monkeypatch
):
    """It only speaks HTTP: its web workers build the bodies and write them to the sockets."""
    db, qid, rid, stored = saved_result

    def not_here(*args, **kwargs):
        raise AssertionError("a body was built or copied in the server's own process")

    monkeypatch.setattr(_serialize, "result_json_rendered_parts", not_here)
    monkeypatch.setattr(_renderers.PassedOnBody, "__iter__", not_here)
    with LocalWatch(db=db, serialize="per-request", web_workers=2) as lw:
        replies = [call(lw, "GET", f"/api/query_results/{rid}.json") for _ in range(3)]
        assert lw._backend.renderers.built_elsewhere == 3
    assert {reply.content for reply in replies} == {replies[0].content}
    assert json.loads(replies[0].content) == json.loads(stored["json by id"][0])


def test_a_web_workers_body_answers_head_and_faults(saved_result):
    db, qid, rid, stored = saved_result
    path = f"/api/query_results/{rid}.json"
    with LocalWatch(db=db, serialize="per-request", web_workers=2) as lw:
        whole = call(lw, "GET", path).content
        head = requests.head(lw.url + path, headers={"Authorization": f"Key {lw.admin_key}"})
        assert head.status_code == 200 and head.content == b""
        assert head.headers["Content-Length"] == str(len(whole))
        lw.faults.truncate_next(1, path=path)  # a fault still cuts what a worker built
        # (the worker's bytes come through its pipe, the fault sends half of them)
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            call(lw, "GET", path)
        assert call(lw, "GET", path).content == whole
    assert json.loads(whole) == json.loads(stored["json by id"][0])


@pytest.fixture
def big_result(tmp_path):
    """A data folder holding a result of some 10 MB: (db path, result id)."""
    db = tmp_path / "w.sqlite"
    with LocalWatch(db=db) as lw:
        ds = lw.add_data_source("demo-sqlite")
        lw.execute_sql(
            ds,
            "CREATE TABLE big AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
            " WHERE i < 400000) SELECT i, 'row ' || i AS label FROM n",
        )
        rid = run_saved(lw, lw.add_query("SELECT * FROM big", ds))["query_result_id"]
    return db, rid


def _stalled_reader(lw: LocalWatch, path: str) -> socket.socket:
    """A connection that asks for ``path`` and then reads nothing."""
    sock = socket.create_connection((urlsplit(lw.url).hostname, urlsplit(lw.url).port))
    request = f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Key {lw.admin_key}\r\n\r\n"
    sock.sendall(request.encode())
    return sock


def test_a_body_cut_off_by_its_reader_leaves_every_web_worker_free(big_result):
    db, rid = big_result
    with LocalWatch(db=db, serialize="per-request", web_workers=2) as lw:
        url = lw.url + f"/api/query_results/{rid}.json"
        with requests.get(url, headers={"Authorization": f"Key {lw.admin_key}"}, stream=True) as r:
            assert int(r.headers["Content-Length"]) > 8 << 20
            next(r.iter_content(1024))  # then hang up after the first kilobyte
        later = [call(lw, "GET", f"/api/query_results/{rid}.json") for _ in range(3)]
        assert lw._backend.renderers.built_elsewhere == 4
    assert all(int(reply.headers["Content-Length"]) == len(reply.content) for reply in later)


def test_readers_that_stop_reading_lose_their_web_worker_after_the_send_timeout(big_result):
    db, rid = big_result
    path = f"/api/query_results/{rid}.json"
    with LocalWatch(db=db, serialize="per-request", web_workers=2) as lw:
        lw._backend.renderers.send_timeout = 0.5
        stalled = [_stalled_reader(lw, path) for _ in range(2)]  # both web workers held
        reply = call(lw, "GET", path)  # answered once a worker gives up on its reader
        for sock in stalled:
            sock.close()
    assert reply.status_code == 200
    assert int(reply.headers["Content-Length"]) == len(reply.content)


def test_closing_the_server_cuts_off_readers_that_stopped_reading(big_result):
    db, rid = big_result
    lw = LocalWatch(db=db, serialize="per-request", web_workers=2).start()
    stalled = [_stalled_reader(lw, f"/api/query_results/{rid}.json") for _ in range(2)]
    assert all(sock.recv(12) == b"HTTP/1.1 200" for sock in stalled)  # being sent
    stopping = threading.Thread(target=lw.stop)
    stopping.start()
    stopping.join(20)  # the send timeout (30 s) is not waited for
    stopped = not stopping.is_alive()
    for sock in stalled:
        sock.close()
    stopping.join()
    assert stopped


def test_a_socket_default_timeout_does_not_cut_bodies_short(big_result):
    """With a default timeout, accepted sockets are non-blocking underneath; the web worker's
    copy must still wait for a reader that is slower than it."""
    db, rid = big_result
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(60)
    try:
        with LocalWatch(db=db, serialize="per-request", web_workers=2) as lw:
            url = lw.url + f"/api/query_results/{rid}.json"
            headers = {"Authorization": f"Key {lw.admin_key}"}
            with requests.get(url, headers=headers, stream=True) as r:
                first = next(r.iter_content(1024))
                time.sleep(0.5)  # the kernel's buffers fill meanwhile
                body = first + b"".join(r.iter_content(1 << 20))
                announced = int(r.headers["Content-Length"])
    finally:
        socket.setdefaulttimeout(previous)
    assert len(body) == announced
    assert json.loads(body)["query_result"]["data"]["rows"][-1]["i"] == 400000


def test_a_web_worker_that_died_is_replaced(saved_result):
    db, qid, rid, stored = saved_result
    with LocalWatch(db=db, serialize="per-request", web_workers=2) as lw:
        pool = lw._backend.renderers.start()
        os.kill(next(iter(pool._processes)), signal.SIGKILL)  # as an out-of-memory kill
        for _ in range(200):  # until the pool has seen it
            if pool._broken:
                break
            time.sleep(0.05)
        assert pool._broken
        reply = call(lw, "GET", f"/api/query_results/{rid}.json")
        assert lw._backend.renderers.start() is not pool
    assert reply.status_code == 200
    assert json.loads(reply.content) == json.loads(stored["json by id"][0])


def test_one_web_worker_builds_every_body_here(saved_result):
    db, qid, rid, _ = saved_result
    with LocalWatch(db=db, serialize="per-request") as lw:
        replies = []
        threads = [
            threading.Thread(
                target=lambda: replies.append(call(lw, "GET", f"/api/query_results/{rid}.json"))
            )
            for _ in range(3)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        renderers = lw._backend.renderers
        assert renderers.web_workers == 1 and renderers._pool is None
        assert renderers.built_elsewhere == 0
    assert len({reply.content for reply in replies}) == 1


@pytest.mark.parametrize("value", [0, -1, 1.5, "2", True])
def test_web_workers_must_be_a_whole_number_of_at_least_one(value):
    with pytest.raises(ValueError, match=rf"web_workers must be a whole number ≥ 1.*not {value!r}"):
        LocalWatch(web_workers=value)
