"""``WatchClient.save_query`` over real HTTP on the local server: create, update by name and by
id, only the caller's own queries matched by name, a change by someone else in between, and
every inferred parameter type read back through ``read_watch_query`` to the same frame."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pandas as pd
import pytest

from watch_pandas import ConflictError, WatchClient, read_watch_query, run_sql
from watch_pandas.testing import LocalWatch

SQL = (
    "SELECT market_id, day, price FROM prices\n"
    "WHERE day >= '{{ since }}' AND price >= {{ floor }}\nORDER BY day, market_id"
)
PARAMS = {"since": dt.date(2024, 1, 3), "floor": 100}


@pytest.fixture(scope="module")
def server() -> Iterator[LocalWatch]:
    """A demo server of this module's own: these tests create and edit queries."""
    with LocalWatch(demo=True) as lw:
        yield lw


@pytest.fixture
def admin(server: LocalWatch) -> Iterator[WatchClient]:
    with WatchClient(server.url, server.admin_key) as watch:
        yield watch


def _frame(server: LocalWatch, query_id: int, params: dict) -> pd.DataFrame:
    frame = read_watch_query(
        query_id, params, url=server.url, api_key=server.admin_key, progress=False, cache=False
    )
    frame.attrs.clear()  # provenance differs (a saved query vs ad-hoc); the data must not
    return frame


def _adhoc(server: LocalWatch, sql: str, params: dict) -> pd.DataFrame:
    frame = run_sql(
        sql, "demo-typed", params, url=server.url, api_key=server.admin_key, progress=False,
        cache=False, max_age=0,
    )  # fmt: skip
    frame.attrs.clear()
    return frame


def test_create_then_update_by_name_keeps_the_id_and_the_visualizations(server, admin):
    made = admin.save_query(SQL, "Daily floor", "demo-typed", parameters=PARAMS)
    assert made.is_draft  # not asked to publish
    visualizations = admin.get_query(made.id).raw["visualizations"]

    changed = SQL.replace("ORDER BY day, market_id", "ORDER BY day DESC, market_id")
    updated = admin.save_query(
        changed, "Daily floor", "demo-typed", parameters={**PARAMS, "floor": 1000}, publish=True
    )

    assert updated.id == made.id and not updated.is_draft
    again = admin.get_query(made.id)
    assert again.query == changed
    assert again.raw["visualizations"] == visualizations
    assert {p["name"]: p["value"] for p in again.parameters} == {
        "since": "2024-01-03",
        "floor": 1000,
    }
    assert [q.id for q in admin.list_queries() if q.name == "Daily floor"] == [made.id]


def test_update_by_id_renames_and_retags(server, admin):
    made = admin.save_query("SELECT 1 AS one", "To rename", "demo-sqlite")
    saved = admin.save_query(
        "SELECT 2 AS two", "Renamed", "demo-sqlite", query=made.id, tags=["notebook"]
    )
    read = admin.get_query(made.id)
    assert (saved.id, read.name, read.query, read.tags) == (
        made.id, "Renamed", "SELECT 2 AS two", ("notebook",)
    )  # fmt: skip


def test_by_name_only_my_own_queries_match(server, admin):
    theirs_key = server.add_user("Dana")
    with WatchClient(server.url, theirs_key) as dana:
        theirs = dana.save_query("SELECT 1 AS one", "Shared name", "demo-sqlite")
    mine = admin.save_query("SELECT 2 AS two", "Shared name", "demo-sqlite")

    assert mine.id != theirs.id
    assert admin.get_query(theirs.id).query == "SELECT 1 AS one"  # an admin could edit it


def test_by_name_a_query_this_client_never_saw_is_not_overwritten(server, admin):
    # Lost work found by a new-user trial: saving under the name of an existing query (one a
    # dashboard uses) silently replaced its SQL. By name, only a query this client has read or
    # saved is updated; any other is refused with the way to update it on purpose.
    existing = admin.create_query(data_source_id=1, query="SELECT 1 AS kept", name="In use")
    with WatchClient(server.url, server.admin_key) as fresh:
        with pytest.raises(ConflictError) as caught:
            fresh.save_query("SELECT 2 AS oops", "In use", "demo-sqlite")
        message = str(caught.value)
        assert f"query {existing.id}" in message.lower() and "query=" in message
        assert server.admin_key not in message
        with pytest.raises(ConflictError):  # the refusal itself does not count as a read
            fresh.save_query("SELECT 2 AS oops", "In use", "demo-sqlite")
        assert fresh.get_query(existing.id).query == "SELECT 1 AS kept"
        updated = fresh.save_query("SELECT 3 AS meant", "In use", "demo-sqlite")  # read: fine
    assert updated.id == existing.id and updated.query == "SELECT 3 AS meant"


def test_several_of_my_queries_with_the_name_is_a_conflict_listing_them(server, admin):
    first = admin.create_query(data_source_id=1, query="SELECT 1 AS a", name="Twice")
    second = admin.create_query(data_source_id=1, query="SELECT 2 AS a", name="Twice")

    with pytest.raises(ConflictError) as caught:
        admin.save_query("SELECT 3 AS a", "Twice", "demo-sqlite")

    assert f"{first.id}, {second.id}" in str(caught.value)
    assert admin.get_query(first.id).query == "SELECT 1 AS a"
    assert admin.get_query(second.id).query == "SELECT 2 AS a"


def test_a_change_by_someone_else_since_my_read_is_a_conflict_and_not_overwritten(server):
    with WatchClient(server.url, server.admin_key) as one:
        made = one.save_query("SELECT 1 AS v", "Contested", "demo-sqlite")
    with (
        WatchClient(server.url, server.admin_key) as mine,
        WatchClient(server.url, server.admin_key) as theirs,
    ):
        mine.get_query(made.id)  # I read it
        theirs.save_query("SELECT 2 AS v", "Contested", "demo-sqlite", query=made.id)

        with pytest.raises(ConflictError, match="someone else") as caught:
            mine.save_query("SELECT 3 AS v", "Contested", "demo-sqlite")
        assert "nothing was saved" in str(caught.value)
        assert server.admin_key not in str(caught.value)
        assert mine.get_query(made.id).query == "SELECT 2 AS v"

        # having read it again, I knowingly save over it
        assert mine.save_query("SELECT 3 AS v", "Contested", "demo-sqlite").query == (
            "SELECT 3 AS v"
        )


def test_a_stale_query_object_is_a_conflict_too(server, admin):
    made = admin.save_query("SELECT 1 AS v", "Read earlier", "demo-sqlite")
    admin.save_query("SELECT 2 AS v", "Read earlier", "demo-sqlite")

    with pytest.raises(ConflictError, match="someone else"):
        admin.save_query("SELECT 3 AS v", "Read earlier", "demo-sqlite", query=made)


@pytest.mark.parametrize(
    ("sql", "params"),
    [
        ("SELECT * FROM prices WHERE day = '{{ day }}' ORDER BY market_id",
         {"day": dt.date(2024, 1, 2)}),
        ("SELECT * FROM prices WHERE day = '{{ day }}' ORDER BY market_id",
         {"day": pd.Timestamp("2024-01-02")}),
        ("SELECT * FROM prices WHERE updated_at < '{{ before }}' ORDER BY day, market_id",
         {"before": dt.datetime(2024, 1, 3, 12, 30, 15)}),
        ("SELECT * FROM prices WHERE price > {{ floor }} ORDER BY day, market_id",
         {"floor": 1000.5}),
        ("SELECT symbol FROM markets WHERE symbol LIKE '{{ pattern }}' ORDER BY id",
         {"pattern": "W%"}),
        ("SELECT * FROM prices WHERE market_id IN ({{ ids }}) ORDER BY day, market_id",
         {"ids": [1, 4]}),
        ("SELECT * FROM prices WHERE day BETWEEN '{{ p.start }}' AND '{{ p.end }}' "
         "ORDER BY day, market_id", {"p": (dt.date(2024, 1, 2), dt.date(2024, 1, 3))}),
        ("SELECT * FROM prices WHERE updated_at BETWEEN '{{ w.start }}' AND '{{ w.end }}' "
         "ORDER BY day, market_id",
         {"w": (dt.datetime(2024, 1, 1, 12), dt.datetime(2024, 1, 3, 12, 0, 1))}),
    ],
    ids=["date", "day-timestamp", "datetime", "number", "text", "enum-list", "date-range",
         "datetime-range"],
)  # fmt: skip
def test_each_parameter_type_reads_back_to_the_same_frame(server, admin, sql, params, request):
    expected = _adhoc(server, sql, params)
    assert len(expected) > 0

    name = f"Typed {request.node.callspec.id}"
    saved = admin.save_query(sql, name, "demo-typed", parameters=params)

    pd.testing.assert_frame_equal(_frame(server, saved.id, params), expected)
    pd.testing.assert_frame_equal(_frame(server, saved.id, {}), expected)  # the defaults
