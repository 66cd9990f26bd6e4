"""``watch_pandas.schema()``: a data source's tables and columns as a frame, and a browser.

The result is a :class:`SchemaFrame`: a DataFrame of ``table, column, type`` that code uses as
any other (whatever is computed from it is a plain ``pandas.DataFrame``); shown as a cell's
result it becomes a searchable table (ipywidgets), or text without ipywidgets. UI module: the
core never imports it.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import pandas as pd

from ._read import client_for

if TYPE_CHECKING:
    from ._client import WatchClient
    from .models import SchemaTable

COLUMNS = ["table", "column", "type"]
INSTALL_HINT = "(a searchable browser needs ipywidgets: pip install 'watch-pandas[jupyter]')"


class SchemaFrame(pd.DataFrame):
    """A schema as ``table, column, type`` rows that displays itself as a browser."""

    @property
    def _constructor(self) -> type[pd.DataFrame]:
        return pd.DataFrame  # slices, copies, results of operations: plain frames

    def _ipython_display_(self) -> None:
        from IPython.display import display

        try:
            widget = browser(self)
        except ImportError:
            print(schema_text(self))
            print(INSTALL_HINT)
            return
        display(widget)


def schema_frame(tables: list[SchemaTable]) -> SchemaFrame:
    """Tables with their columns → one row per column (``type`` missing when not reported)."""
    rows = [(t.name, c.name, c.type) for t in tables for c in t.columns]
    frame = pd.DataFrame(rows, columns=COLUMNS, dtype="string")
    return SchemaFrame(frame)


def schema(
    data_source: int | str,
    *,
    refresh: bool = False,
    url: str | None = None,
    api_key: str | None = None,
    profile: str | None = None,
    client: WatchClient | None = None,
    timeout: float | None = None,
) -> pd.DataFrame:
    """The tables and columns of a data source (id or name) as a DataFrame of
    ``table, column, type`` (``type``: the database's type name, missing where the server
    reports none, e.g. SQLite).

    As a notebook cell's result it shows a searchable table of the schema (text without
    ipywidgets); anything computed from it is a plain DataFrame. ``refresh=True`` asks the
    server to read the schema again instead of answering its cached copy.
    """
    with client_for(client, url, api_key, profile) as watch:
        tables = watch.get_schema(data_source, refresh=refresh, timeout=timeout)
    return schema_frame(tables)


def _matching(frame: pd.DataFrame, text: str) -> pd.DataFrame:
    """Rows whose table or column contains ``text`` (case-insensitive); a matching table
    keeps all its columns."""
    needle = text.strip().lower()
    if not needle:
        return frame
    tables = frame["table"].str.lower()
    hit = tables.str.contains(needle, regex=False) | frame["column"].str.lower().str.contains(
        needle, regex=False
    )
    return frame[hit.fillna(False).astype(bool)]


def schema_html(frame: pd.DataFrame, text: str = "") -> str:
    """The matching part of the schema as an HTML table grouped by table."""
    shown = _matching(frame, text)
    if shown.empty:
        return f"<i>No table or column matches {html.escape(text)!r}.</i>"
    parts = ['<table class="watch-schema"><tr><th>table</th><th>column</th><th>type</th></tr>']
    last = None
    for table, column, kind in shown.itertuples(index=False, name=None):
        label = "" if table == last else f"<b>{html.escape(str(table))}</b>"
        last = table
        kind_text = "" if pd.isna(kind) else html.escape(str(kind))
        parts.append(
            f"<tr><td>{label}</td><td>{html.escape(str(column))}</td><td>{kind_text}</td></tr>"
        )
    parts.append("</table>")
    return "".join(parts)


def schema_text(frame: pd.DataFrame) -> str:
    """The schema as text: each table, then its columns with their types."""
    lines = []
    for table, group in frame.groupby("table", sort=False):
        lines.append(f"{table} ({len(group)} columns)")
        for column, kind in zip(group["column"], group["type"], strict=True):
            lines.append(f"    {column}" + ("" if pd.isna(kind) else f"  {kind}"))
    return "\n".join(lines)


def browser(frame: pd.DataFrame) -> Any:
    """A search box over an HTML table of the schema, filtered as one types (ipywidgets)."""
    import ipywidgets as widgets

    search = widgets.Text(placeholder="Search tables and columns", continuous_update=True)
    table = widgets.HTML(schema_html(frame))

    def on_change(change: dict[str, Any]) -> None:
        table.value = schema_html(frame, change["new"])

    search.observe(on_change, names="value")
    return widgets.VBox([search, table])
