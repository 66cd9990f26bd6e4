"""Fixtures of the local server's own tests (the plugin provides ``local_watch``)."""

from __future__ import annotations

import pytest
from local_watch_helpers import fill_demo_table

from watch_pandas.testing import LocalWatch


@pytest.fixture
def sqlite_lw(local_watch: LocalWatch) -> LocalWatch:
    """A fresh server with one untyped data source (id 1) holding the ``demo`` table."""
    ds = local_watch.add_data_source("demo-sqlite")
    fill_demo_table(local_watch, ds)
    return local_watch
