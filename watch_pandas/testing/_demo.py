"""The deterministic DeFi demo: data sources, tables, saved queries and a dashboard.

Loaded by ``LocalWatch(demo=True)`` or ``lw.load_demo()``; ids are exposed by stable names:

``lw.demo.data_sources``
    ``"sqlite"`` (name ``demo-sqlite``, every column ``type: null``) and ``"typed"``
    (``demo-typed``, typed columns like PostgreSQL).
``lw.demo.queries``
    ``"markets"`` (untyped; commas, quotes, newlines, unicode, NULLs in text),
    ``"prices"`` (typed: integer, float, boolean, date, datetime, tz-aware datetime),
    ``"positions"`` (typed: wei amounts beyond int64, booleans, NULLs),
    ``"positions_untyped"`` (same rows on SQLite: big amounts arrive as text),
    ``"price_history"`` (typed; ``period`` date-range, ``symbols`` quoted multi-value enum,
    ``min_price`` number — the README's demo query),
    one query per parameter type: ``"param_text"`` (unsafe), ``"param_number"``,
    ``"param_enum"``, ``"param_multi_enum"``, ``"param_query"`` (dropdown fed by
    ``"market_options"``), ``"param_date"``, ``"param_datetime"``, ``"param_datetime_seconds"``,
    ``"param_date_range"``, ``"param_datetime_range"``, ``"param_datetime_range_seconds"``,
    ``"large"`` (1,000,000 rows × 8 typed columns from a recursive CTE; not pre-run) and
    ``"failing"`` (fails with ``no such table: no_such_table``).
``lw.demo.visualizations``
    saved charts: ``"price_lines"`` and ``"volume_stacked"`` (price_history),
    ``"volume_pivot"`` and ``"prices_table"`` (prices), ``"markets_counter"`` (markets).
``lw.demo.dashboards``
    ``"defi_overview"`` ("DeFi overview", slug ``defi-overview``) with widgets for markets,
    prices, positions and price_history; ``"defi_report"`` ("DeFi market report", slug
    ``defi-market-report``) laid out as the web UI saves a dashboard: two Markdown text
    widgets, price_history and param_date_range sharing the dashboard parameter ``period``,
    price_history's ``symbols`` widget-level and ``min_price`` a static value, markets and
    positions side by side (positions with ``autoHeight``).

Cached default-valued results are seeded for ``markets``, ``prices``, ``positions``,
``positions_untyped``, ``market_options`` (so the dropdown validates) and ``price_history``,
so ``GET /api/queries/<id>/results.json`` works for them at once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from ._server import LocalWatch

LARGE_ROWS = 1_000_000

MARKETS = [
    # id, symbol, name, chain, is_stable, listed_on, description
    (1, "WETH", "Wrapped Ether", "ethereum", 0, "2017-12-18", "The base asset"),
    (2, "USDC", "USD Coin", "ethereum", 1, "2018-09-26", 'Stable, "fully" reserved'),
    (3, "DAI", "Dai", "ethereum", 1, "2019-11-18", "Multi-collateral,\nover-collateralised"),
    (4, "WBTC", "Wrapped BTC", "ethereum", 0, "2019-01-30", None),
    (5, "ARB", "Arbitrum", "arbitrum", 0, "2023-03-23", "L2 governance token"),
    (6, "OP", "Optimism", "optimism", 0, "2022-05-31", "tab\tand\r\ncrlf"),
    (7, "ÜNI", "Ünïcödé Tökên 日本語 🚀", "arbitrum", 0, "2024-01-01", "€ — unicode"),
    (8, "CQC", 'Comma, "Quote" Coin', "optimism", 0, "2024-02-29", ""),
]
_BASE_PRICE = {1: 2300.0, 2: 1.0, 3: 1.0, 4: 42000.0, 5: 1.8, 6: 3.1, 7: 0.42, 8: 12.5}
DAYS = 120
START = dt.date(2024, 1, 1)


def _price(market_id: int, day: int) -> float:
    base = _BASE_PRICE[market_id]
    if market_id in (2, 3):
        return round(1.0 + ((day * 7 + market_id) % 9 - 4) / 10000, 4)
    wave = ((day * 37 + market_id * 11) % 41 - 20) / 200
    return round(base * (1 + wave + day / 1000), 4)


def _schema(typed: bool) -> str:
    big = "BIGNUM TEXT" if typed else "TEXT"
    return f"""
    CREATE TABLE markets (id INTEGER PRIMARY KEY, symbol TEXT, name TEXT, chain TEXT,
        is_stable BOOLEAN, listed_on DATE, description TEXT);
    CREATE TABLE prices (market_id INTEGER, day DATE, price REAL, volume_usd REAL,
        updated_at TIMESTAMP, updated_at_tz TIMESTAMPTZ);
    CREATE TABLE positions (id INTEGER PRIMARY KEY, wallet TEXT, market_id INTEGER,
        amount_wei {big}, opened_at TIMESTAMP, opened_at_tz TIMESTAMPTZ, is_open BOOLEAN,
        closed_on DATE, note TEXT);
    """


def _rows() -> tuple[list[tuple], list[tuple], list[tuple]]:
    prices = []
    for market_id, *_ in MARKETS:
        for day in range(DAYS):
            date = START + dt.timedelta(days=day)
            micro = 0 if day % 3 else 123456
            stamp = dt.datetime.combine(date, dt.time(23, 59, day % 60, micro))
            offset = dt.timezone(dt.timedelta(hours=(day % 5) - 2))
            aware = dt.datetime.combine(date, dt.time(12, 30, 15), tzinfo=offset)
            volume = None if (day + market_id) % 17 == 0 else float(1_000_000 + day * 1234.5)
            prices.append(
                (
                    market_id,
                    date.isoformat(),
                    _price(market_id, day),
                    volume,
                    stamp.isoformat(sep=" "),
                    aware.isoformat(),
                )
            )
    positions = []
    for pid in range(1, 201):
        market_id = pid % len(MARKETS) + 1
        amount = (pid * 7919) * 10**18 + pid if pid % 3 else (2**64 + pid) * 10**12
        if pid % 50 == 0:
            amount = 2**256 - pid  # uint256-sized
        opened = dt.datetime(2024, 1, 1, 8, 0, 0) + dt.timedelta(hours=pid * 7, seconds=pid)
        tz = dt.timezone(dt.timedelta(hours=9)) if pid % 2 else dt.timezone.utc
        closed = None if pid % 4 else (opened.date() + dt.timedelta(days=30)).isoformat()
        note = [None, "long, leveraged", 'said "hodl"', "multi\nline", "ünïcödé 🚀"][pid % 5]
        positions.append(
            (
                pid,
                f"0x{pid * 0x9E3779B1:040x}",
                market_id,
                str(amount),
                opened.isoformat(sep=" "),
                opened.replace(tzinfo=tz).isoformat(),
                int(closed is None),
                closed,
                note,
            )
        )
    return list(MARKETS), prices, positions


def _fill(lw: LocalWatch, ds: int, typed: bool) -> None:
    import sqlite3

    lw.execute_sql(ds, _schema(typed))
    markets, prices, positions = _rows()
    source = lw._backend.data_source(ds)
    conn = sqlite3.connect(source["path"])
    try:
        conn.executemany("INSERT INTO markets VALUES (?, ?, ?, ?, ?, ?, ?)", markets)
        conn.executemany("INSERT INTO prices VALUES (?, ?, ?, ?, ?, ?)", prices)
        conn.executemany("INSERT INTO positions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", positions)
        conn.commit()
    finally:
        conn.close()


def _p(name: str, kind: str, value: object, **extra: object) -> dict[str, object]:
    title = name.replace("_", " ").capitalize()
    return {"name": name, "type": kind, "title": title, "value": value, **extra}


LARGE_SQL = f"""WITH RECURSIVE seq(n) AS (
  SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < {LARGE_ROWS}
)
SELECT n AS id,
  round(1000 + (n % 997) * 0.37, 4) AS price,
  (n % 2 = 0) AS "is_even [BOOLEAN]",
  date('2020-01-01', '+' || (n % 1500) || ' days') AS "day [DATE]",
  datetime('2020-01-01 00:00:00', '+' || n || ' seconds') AS "ts [TIMESTAMP]",
  'row ' || n AS "label [VARCHAR]",
  CASE WHEN n % 10 = 0 THEN NULL ELSE n * 3 END AS maybe_null,
  CAST(n AS TEXT) || '000000000000000000000' AS "amount_wei [HUGEINT]"
FROM seq"""


@dataclass
class Demo:
    """Ids of the demo content by stable names."""

    data_sources: dict[str, int] = field(default_factory=dict)
    queries: dict[str, int] = field(default_factory=dict)
    dashboards: dict[str, int] = field(default_factory=dict)
    dashboard_slugs: dict[str, str] = field(default_factory=dict)
    visualizations: dict[str, int] = field(default_factory=dict)


def load_demo(lw: LocalWatch) -> Demo:
    """Create the demo content in ``lw`` (once per database) and return its ids."""
    store = lw._backend.store
    saved = store.setting("demo")
    if saved is not None:
        import json

        return Demo(**json.loads(saved))
    demo = Demo()
    plain = demo.data_sources["sqlite"] = lw.add_data_source("demo-sqlite")
    typed = demo.data_sources["typed"] = lw.add_data_source("demo-typed", typed=True)
    _fill(lw, plain, typed=False)
    _fill(lw, typed, typed=True)
    q = demo.queries
    add = lw.add_query
    q["markets"] = add(
        "SELECT id, symbol, name, chain, is_stable, listed_on, description\n"
        "FROM markets\nORDER BY id",
        plain,
        name="Markets",
        description="All markets (untyped SQLite)",
        tags=["defi"],
    )
    q["prices"] = add(
        "SELECT p.day, m.symbol, p.price, p.volume_usd, m.is_stable, p.updated_at,"
        " p.updated_at_tz\nFROM prices p JOIN markets m ON m.id = p.market_id\n"
        "ORDER BY p.day, m.id",
        typed,
        name="Daily prices",
        description="Typed columns like PostgreSQL",
        tags=["defi"],
    )
    q["positions"] = add(
        "SELECT id, wallet, market_id, amount_wei, opened_at, opened_at_tz, is_open, closed_on,"
        " note\nFROM positions\nORDER BY id",
        typed,
        name="Positions (wei)",
        tags=["defi", "wei"],
    )
    q["positions_untyped"] = add(
        "SELECT id, wallet, market_id, amount_wei, opened_at, is_open, note\n"
        "FROM positions\nORDER BY id",
        plain,
        name="Positions (untyped)",
        tags=["wei"],
    )
    q["market_options"] = add(
        "SELECT symbol AS value, name FROM markets ORDER BY id",
        plain,
        name="Market options",
        description="Source of the market dropdown",
    )
    q["price_history"] = add(
        "SELECT p.day, m.symbol, p.price, p.volume_usd, p.updated_at_tz\n"
        "FROM prices p JOIN markets m ON m.id = p.market_id\n"
        "WHERE p.day BETWEEN '{{ period.start }}' AND '{{ period.end }}'\n"
        "  AND m.symbol IN ({{ symbols }})\n  AND p.price >= {{ min_price }}\n"
        "ORDER BY p.day, m.symbol",
        typed,
        name="Price history",
        description="Parameterized: date range, quoted multi-value enum, number",
        tags=["defi"],
        parameters=[
            _p("period", "date-range", {"start": "2024-01-01", "end": "2024-01-31"}),
            _p(
                "symbols",
                "enum",
                ["WETH", "WBTC"],
                enumOptions="\n".join(m[1] for m in MARKETS),
                multiValuesOptions={"prefix": "'", "suffix": "'", "separator": ","},
            ),
            _p("min_price", "number", 0),
        ],
    )
    per_type = [
        (
            "param_text",
            "SELECT id, symbol, name FROM markets WHERE symbol = '{{ symbol }}'",
            _p("symbol", "text", "WETH"),
        ),
        (
            "param_number",
            "SELECT day, price FROM prices WHERE market_id = 1"
            " AND price >= {{ min_price }} ORDER BY day",
            _p("min_price", "number", 2400),
        ),
        (
            "param_enum",
            "SELECT id, symbol FROM markets WHERE chain = '{{ chain }}' ORDER BY id",
            _p("chain", "enum", "ethereum", enumOptions="ethereum\narbitrum\noptimism"),
        ),
        (
            "param_multi_enum",
            "SELECT id, symbol FROM markets WHERE symbol IN ({{ symbols }}) ORDER BY id",
            _p(
                "symbols",
                "enum",
                ["WETH", "DAI"],
                enumOptions="\n".join(m[1] for m in MARKETS),
                multiValuesOptions={"prefix": '"', "suffix": '"', "separator": ","},
            ),
        ),
        (
            "param_query",
            "SELECT p.day, p.price FROM prices p JOIN markets m ON m.id = p.market_id"
            " WHERE m.symbol = '{{ market }}' ORDER BY p.day",
            _p("market", "query", "WETH", queryId=q["market_options"]),
        ),
        (
            "param_date",
            "SELECT day, price FROM prices WHERE market_id = 1"
            " AND day >= '{{ since }}' ORDER BY day",
            _p("since", "date", "2024-04-01"),
        ),
        (
            "param_datetime",
            "SELECT day, updated_at FROM prices WHERE market_id = 1"
            " AND updated_at >= '{{ since }}' ORDER BY day",
            _p("since", "datetime-local", "2024-04-01 12:00"),
        ),
        (
            "param_datetime_seconds",
            "SELECT day, updated_at FROM prices WHERE market_id = 1"
            " AND updated_at >= '{{ since }}' ORDER BY day",
            _p("since", "datetime-with-seconds", "2024-04-01 12:00:30"),
        ),
        (
            "param_date_range",
            "SELECT day, price FROM prices WHERE market_id = 1"
            " AND day BETWEEN '{{ period.start }}' AND '{{ period.end }}' ORDER BY day",
            _p("period", "date-range", {"start": "2024-02-01", "end": "2024-02-29"}),
        ),
        (
            "param_datetime_range",
            "SELECT day, updated_at FROM prices WHERE market_id = 1"
            " AND updated_at BETWEEN '{{ period.start }}' AND '{{ period.end }}' ORDER BY day",
            _p(
                "period", "datetime-range", {"start": "2024-02-01 00:00", "end": "2024-02-10 12:00"}
            ),
        ),
        (
            "param_datetime_range_seconds",
            "SELECT day, updated_at FROM prices WHERE market_id = 1"
            " AND updated_at BETWEEN '{{ period.start }}' AND '{{ period.end }}' ORDER BY day",
            _p(
                "period",
                "datetime-range-with-seconds",
                {"start": "2024-02-01 00:00:00", "end": "2024-02-10 23:59:30"},
            ),
        ),
    ]
    for key, sql, definition in per_type:
        q[key] = add(
            sql, plain, name=key.replace("_", " "), parameters=[definition], tags=["params"]
        )
    q["large"] = add(LARGE_SQL, typed, name="Large (1M rows)", tags=["load"])
    q["failing"] = add("SELECT * FROM no_such_table", plain, name="Failing query")
    for key in (
        "markets",
        "prices",
        "positions",
        "positions_untyped",
        "market_options",
        "price_history",
    ):
        lw.refresh_query(q[key])
    from ._demo_charts import add_demo_visualizations

    demo.visualizations.update(add_demo_visualizations(lw, q))
    demo.dashboards["defi_overview"] = lw.add_dashboard(
        "DeFi overview",
        query_ids=[q["markets"], q["prices"], q["positions"], q["price_history"]],
    )
    demo.dashboard_slugs["defi_overview"] = "defi-overview"
    demo.dashboards["defi_report"] = _report(lw, q)
    demo.dashboard_slugs["defi_report"] = "defi-market-report"
    import dataclasses
    import json

    store.set_setting("demo", json.dumps(dataclasses.asdict(demo)))
    return demo


REPORT_INTRO = """## DeFi market report
Daily prices of the demo markets over the **period** chosen above, and the open positions.
The price history keeps its own *symbols* (WETH, WBTC) and shows prices from $1,000 up."""


def _report(lw: LocalWatch, q: dict[str, int]) -> int:
    """The report dashboard: text widgets, positions and every kind of parameter mapping."""
    board = lw.add_dashboard("DeFi market report")
    lw.add_widget(board, text=REPORT_INTRO, position={"col": 0, "row": 0, "sizeX": 6, "sizeY": 3})
    lw.add_widget(
        board,
        q["price_history"],
        position={"col": 0, "row": 3, "sizeX": 4, "sizeY": 8},
        parameter_mappings={
            "symbols": {
                "name": "symbols",
                "type": "widget-level",
                "mapTo": "symbols",
                "value": None,
                "title": "Symbols",
            },
            "min_price": {
                "name": "min_price",
                "type": "static-value",
                "mapTo": "min_price",
                "value": 1000,
                "title": "",
            },
        },
    )
    lw.add_widget(
        board, q["param_date_range"], position={"col": 4, "row": 3, "sizeX": 2, "sizeY": 8}
    )
    lw.add_widget(board, q["markets"], position={"col": 0, "row": 11, "sizeX": 3, "sizeY": 8})
    lw.add_widget(
        board,
        q["positions"],
        position={"col": 3, "row": 11, "sizeX": 3, "sizeY": 8, "autoHeight": True},
    )
    lw.add_widget(
        board,
        text="Data: the local demo server (`watch-pandas serve --demo`).",
        position={"col": 0, "row": 19, "sizeX": 6, "sizeY": 2},
    )
    return board
