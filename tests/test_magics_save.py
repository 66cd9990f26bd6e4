"""``%%watch --save NAME``: the cell runs first, then is saved as a query (its parameters
inferred from the values it ran with), the link printed, the frame assigned as usual; through a
real embedded IPython shell against the local server."""

from __future__ import annotations

from datetime import date

import pytest
from IPython.core.error import UsageError

from watch_pandas import WatchClient
from watch_pandas import magics as M

SQL = "SELECT id, label FROM demo WHERE id >= {{ low }} ORDER BY id"


@pytest.fixture(scope="module")
def server(demo_params_server):
    return demo_params_server


@pytest.fixture
def ip(server, magic_shell):
    """The embedded shell with a fresh WatchMagic pointed at the local server."""
    return magic_shell(server)


@pytest.fixture
def client(server):
    with WatchClient(server.url, server.admin_key) as watch:
        yield watch


def _mine_named(client: WatchClient, name: str):
    return [q for q in client.list_queries() if q.name == name]


def test_save_runs_assigns_saves_and_prints_the_link(ip, server, client, capsys):
    ip.user_ns["start"] = date(2024, 1, 1)
    ip.run_cell_magic("watch", 'frame -d db --save "Daily volume" -p low=2 --publish --tag nb', SQL)

    assert ip.user_ns["frame"]["id"].tolist() == [2, 3]
    (saved,) = _mine_named(client, "Daily volume")
    out = capsys.readouterr().out
    assert f"{server.url}/queries/{saved.id}/source" in out
    assert server.admin_key not in out
    read = client.get_query(saved.id)
    assert read.query == SQL and not read.is_draft and read.tags == ("nb",)
    assert [(p["name"], p["type"], p["value"]) for p in read.parameters] == [
        ("low", "text", "2")  # a command-line value is text; $variables keep their type
    ]


def test_save_again_updates_the_same_query(ip, client, capsys):
    ip.run_cell_magic("watch", "-d db --save Again", "SELECT 1 AS one")
    assert capsys.readouterr().out.startswith("Created query ")
    ip.user_ns["low"] = 3
    ip.run_cell_magic("watch", "frame -d db --save Again -p low=$low", SQL)
    assert capsys.readouterr().out.startswith("Updated query ")

    (saved,) = _mine_named(client, "Again")
    assert saved.query == SQL
    assert [(p["type"], p["value"]) for p in saved.parameters] == [("number", 3)]
    assert ip.user_ns["frame"]["id"].tolist() == [3]


def test_save_id_updates_that_query(ip, client):
    made = client.save_query("SELECT 1 AS one", "By id", "db")
    ip.run_cell_magic("watch", f"-d db --save Renamed --save-id {made.id}", "SELECT 2 AS two")
    read = client.get_query(made.id)
    assert (read.name, read.query) == ("Renamed", "SELECT 2 AS two")


def test_a_failing_cell_saves_nothing(ip, client):
    with pytest.raises(M.WatchMagicError, match="not saved"):
        ip.run_cell_magic("watch", "frame -d db --save Broken", "SELECT * FROM no_such_table")
    assert _mine_named(client, "Broken") == []
    assert "frame" not in ip.user_ns


def test_a_change_by_someone_else_between_two_saves_fails_the_cell_but_keeps_the_frame(
    ip, server, client
):
    ip.run_cell_magic("watch", "-d db --save Contested", "SELECT 1 AS v")
    (saved,) = _mine_named(client, "Contested")
    client.save_query("SELECT 2 AS v", "Contested", "db", query=saved.id)  # someone else

    with pytest.raises(M.WatchMagicError) as caught:
        ip.run_cell_magic("watch", "frame -d db --save Contested", "SELECT 3 AS v")

    message = str(caught.value)
    assert "someone else" in message and "frame was assigned" in message
    assert ip.user_ns["frame"]["v"].tolist() == [3]
    assert client.get_query(saved.id).query == "SELECT 2 AS v"
    # told so, running it again does not save over their change by name either...
    with pytest.raises(M.WatchMagicError, match=f"--save-id {saved.id}"):
        ip.run_cell_magic("watch", "frame -d db --save Contested", "SELECT 3 AS v")
    assert client.get_query(saved.id).query == "SELECT 2 AS v"
    # ...but does when asked to by id
    ip.run_cell_magic(
        "watch", f"frame -d db --save Contested --save-id {saved.id}", "SELECT 3 AS v"
    )
    assert client.get_query(saved.id).query == "SELECT 3 AS v"


def test_saving_under_the_name_of_a_query_in_use_refuses_and_says_how(ip, server, client):
    existing = client.create_query(data_source_id=1, query="SELECT 1 AS kept", name="In use")
    with pytest.raises(M.WatchMagicError) as caught:
        ip.run_cell_magic("watch", "frame -d db --save 'In use'", "SELECT 2 AS oops")
    message = str(caught.value)
    assert f"--save-id {existing.id}" in message and "frame was assigned" in message
    assert client.get_query(existing.id).query == "SELECT 1 AS kept"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("-d db --save", "--save"),
        ("-d db --save-id 3", "--save NAME"),
        ("-d db --publish", "--save NAME"),
        ("-d db --save x --save-id abc", "--save-id"),
    ],
)
def test_save_usage_errors(ip, line, expected):
    with pytest.raises(UsageError, match=expected):
        ip.run_cell_magic("watch", line, "SELECT 1 AS one")
