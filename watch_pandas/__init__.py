"""watch_pandas: Inverse Watch / Redash query results as correctly typed pandas DataFrames.

The public surface is listed in ``__all__``; everything else is private. Heavy modules
(pandas, pyarrow, requests, IPython, ipywidgets) are imported on first use, so
``import watch_pandas`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    AuthError,
    ConfigError,
    ConflictError,
    DashboardError,
    ForbiddenError,
    LossyFormatError,
    NotFoundError,
    ParameterError,
    QueryCancelledError,
    QueryFailedError,
    ServerError,
    SweepError,
    TransportError,
    WatchError,
    WatchTimeoutError,
)

__version__ = "0.1.0"

__all__ = [
    "read_watch_query",
    "read_watch_dashboard",
    "read_watch_url",
    "read_watch_sweep",
    "date_ranges",
    "run_sql",
    "clear_cache",
    "to_parquet",
    "read_parquet",
    "to_feather",
    "read_feather",
    "decode_csv",
    "picker",
    "schema",
    "show_dashboard",
    "plot",
    "WatchClient",
    "ProgressEvent",
    "load_ipython_extension",
    "show_versions",
    "WatchError",
    "ConfigError",
    "AuthError",
    "ForbiddenError",
    "NotFoundError",
    "ParameterError",
    "ConflictError",
    "QueryFailedError",
    "QueryCancelledError",
    "WatchTimeoutError",
    "LossyFormatError",
    "ServerError",
    "TransportError",
    "DashboardError",
    "SweepError",
]

# name -> module that defines it; imported on first attribute access (PEP 562).
_LAZY = {
    "read_watch_query": "_api",
    "run_sql": "_api",
    "clear_cache": "_api",
    "to_parquet": "_files",
    "read_parquet": "_files",
    "to_feather": "_files",
    "read_feather": "_files",
    "decode_csv": "_decode",
    "read_watch_dashboard": "_dashboards",
    "read_watch_url": "_links",
    "date_ranges": "_params",
    "read_watch_sweep": "_sweeps",
    "picker": "widgets",
    "schema": "_schema_browser",
    "show_dashboard": "_dashboard_view",
    "plot": "_plot",
    "WatchClient": "_client",
    "ProgressEvent": "_progress",
    "load_ipython_extension": "magics",
    "show_versions": "_versions",
}

if TYPE_CHECKING:  # pragma: no cover
    from ._api import clear_cache, read_watch_query, run_sql
    from ._client import WatchClient
    from ._dashboard_view import show_dashboard
    from ._dashboards import read_watch_dashboard
    from ._decode import decode_csv
    from ._files import read_feather, read_parquet, to_feather, to_parquet
    from ._links import read_watch_url
    from ._params import date_ranges
    from ._plot import plot
    from ._progress import ProgressEvent
    from ._schema_browser import schema
    from ._sweeps import read_watch_sweep
    from ._versions import show_versions
    from .magics import load_ipython_extension
    from .widgets import picker


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'watch_pandas' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
