"""Fixtures of the local server's own tests (the plugin provides ``local_watch``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from local_watch_helpers import fill_demo_table

from watch_pandas.testing import LocalWatch

TESTS_HERE = Path(__file__).parent


@pytest.fixture
def sqlite_lw(local_watch: LocalWatch) -> LocalWatch:
    """A fresh server with one untyped data source (id 1) holding the ``demo`` table."""
    ds = local_watch.add_data_source("demo-sqlite")
    fill_demo_table(local_watch, ds)
    return local_watch


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip this folder's ``slow`` tests (the 1M-row query) unless ``-m`` selects them."""
    if "slow" in (config.getoption("markexpr", "") or ""):
        return
    here = str(TESTS_HERE)
    skip = pytest.mark.skip(reason="slow: run with -m slow")
    for item in items:
        if "slow" in item.keywords and str(item.path).startswith(here):
            item.add_marker(skip)
