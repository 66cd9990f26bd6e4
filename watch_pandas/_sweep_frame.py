"""The DataFrame a sweep returns: its rows, plus ``errors`` for the parts that failed.

Its own module because it subclasses ``pandas.DataFrame`` at import time; the sweep imports
it only when it builds a result, so importing the package stays cheap.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["SweepFrame"]


class SweepFrame(pd.DataFrame):
    """A sweep's rows; ``errors`` maps each failed part's label to its exception.

    Operations on it return plain DataFrames: only the sweep's own result carries ``errors``.
    """

    _metadata = ["errors"]

    def __init__(self, *args: Any, errors: dict[str, Exception] | None = None, **kw: Any):
        super().__init__(*args, **kw)
        self.errors: dict[str, Exception] = dict(errors or {})

    @property
    def _constructor(self) -> type[pd.DataFrame]:
        return pd.DataFrame
