"""watch_pandas.plot and the ``df.watch`` accessor: a query's saved visualization drawn from
its result (the drawing: ``_charts``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._client._args import as_id
from .errors import ConfigError, NotFoundError

if TYPE_CHECKING:
    import pandas as pd

    from ._client import WatchClient
    from .models import Visualization


def choose(
    visualizations: Sequence[Visualization], wanted: object, query_name: str
) -> Visualization:
    """By id (an int or digits) or name; ``None``: the first that is not a table (the
    server's order), else the first."""
    if wanted is None:
        drawn = [v for v in visualizations if v.type != "TABLE"]
        if drawn or visualizations:
            return (drawn or list(visualizations))[0]
        raise NotFoundError(f"Query {query_name!r} has no saved visualization.")
    if isinstance(wanted, bool) or not isinstance(wanted, (int, str)):
        raise ConfigError(
            f"visualization must be a saved visualization's name or id, not {wanted!r}."
        )
    for vis in visualizations:
        if vis.name == wanted or vis.id == wanted or str(vis.id) == str(wanted).strip():
            return vis
    saved = ", ".join(f"{v.name!r} (id {v.id}, {v.type})" for v in visualizations) or "none"
    raise NotFoundError(
        f"Query {query_name!r} has no visualization {wanted!r}; saved ones: {saved}."
    )


def plot(
    query_id: int,
    visualization: int | str | None = None,
    params: Mapping[str, Any] | None = None,
    *,
    url: str | None = None,
    api_key: str | None = None,
    profile: str | None = None,
    client: WatchClient | None = None,
    **read_options: Any,
) -> object:
    """Draw a saved query's visualization as the web UI does (``pip install
    "watch-pandas[plot]"`` for charts).

    ``visualization`` is a name or id (default: the first that is not a table); the result is
    read with ``read_watch_query(query_id, params, **read_options)``. Returns what a notebook
    displays: a plotly Figure (CHART), a counter (COUNTER), a formatted Styler or the frame
    (TABLE), a pivot table (PIVOT); other kinds show the table with a line saying so.
    """
    from . import _read
    from ._api import read_watch_query
    from ._charts import render

    query_id = as_id(query_id, "query_id")
    if read_options.get("output", "pandas") != "pandas":
        raise ConfigError('plot() draws pandas frames: leave output= at "pandas".')
    with _read.client_for(client, url, api_key, profile) as watch:
        query = watch.get_query(query_id)
        chosen = choose(query.visualizations, visualization, query.name)
        frame = read_watch_query(query_id, params, client=watch, **read_options)
    return render(chosen, frame)


class WatchAccessor:
    """``df.watch``: what a frame read from a saved query can do with its provenance."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame

    def plot(
        self,
        visualization: int | str | None = None,
        *,
        url: str | None = None,
        api_key: str | None = None,
        profile: str | None = None,
        client: WatchClient | None = None,
    ) -> object:
        """Draw this frame as its query's saved visualization (name or id; default the first
        that is not a table), fetched from the server it was read from; nothing is re-run."""
        from . import _read
        from ._charts import render

        watch_attrs = self._frame.attrs.get("watch") or {}
        query_id = watch_attrs.get("query_id")
        if not query_id:
            raise ConfigError(
                "This frame does not come from a saved query (df.attrs['watch'] has no "
                "query_id): read it with read_watch_query(...) or use plot(query_id)."
            )
        server = url or (None if client is not None else watch_attrs.get("server"))
        with _read.client_for(client, server, api_key, profile) as watch:
            query = watch.get_query(int(query_id))
        return render(choose(query.visualizations, visualization, query.name), self._frame)


def register_accessor() -> None:
    """``df.watch`` on every DataFrame (once; pandas is imported by then)."""
    import pandas as pd

    if "watch" not in getattr(pd.DataFrame, "_accessors", set()):
        pd.api.extensions.register_dataframe_accessor("watch")(WatchAccessor)
