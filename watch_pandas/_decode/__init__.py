"""Result bytes → correctly typed pandas DataFrames.

- :mod:`._json`: JSON result bodies, whole (:func:`decode_result`) or decoded while they
  stream (:func:`read_result`, on the row engine of :mod:`watch_pandas._rows`);
- :mod:`._dtypes`: the one table from result column types to Arrow arrays to pandas dtypes
  (both ``dtype_backend`` values), shared with the local cache;
- :mod:`._csv`: CSV/TSV downloads (:func:`decode_csv`) and what a CSV would lose
  (:func:`csv_loss_reason`).
"""

from __future__ import annotations

from ._csv import csv_loss_reason, decode_csv
from ._dtypes import DtypeBackend
from ._json import decode_result, read_result

__all__ = ["decode_result", "read_result", "decode_csv", "csv_loss_reason", "DtypeBackend"]
