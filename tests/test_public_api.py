"""The public surface is pinned: adding or removing a public name is a deliberate change."""

from __future__ import annotations

import subprocess
import sys

import pytest

import watch_pandas

PUBLIC = {
    "read_watch_query",
    "read_watch_dashboard",
    "read_watch_url",
    "date_ranges",
    "read_watch_sweep",
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
}


def test_all_is_pinned():
    assert set(watch_pandas.__all__) == PUBLIC
    assert len(watch_pandas.__all__) == len(PUBLIC)


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_every_public_name_resolves(name):
    assert getattr(watch_pandas, name) is not None


def test_errors_share_one_root():
    for name in PUBLIC:
        obj = getattr(watch_pandas, name)
        if isinstance(obj, type) and name.endswith("Error"):
            assert issubclass(obj, watch_pandas.WatchError)


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_name"):
        watch_pandas.no_such_name  # noqa: B018


def test_import_is_lazy():
    """`import watch_pandas` pulls in none of the heavy or optional modules."""
    code = (
        "import sys, watch_pandas; "
        "heavy = ['pandas', 'pyarrow', 'requests', 'IPython', 'ipywidgets', 'msgspec']; "
        "print(','.join(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
