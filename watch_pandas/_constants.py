"""Plain constants of the Redash/Watch protocol, shared by the client and the local server.

Only numbers and names live here: the client and ``watch_pandas.testing`` are two independent
readings of the spec and share nothing else.
"""

from __future__ import annotations

# Job status numbers (docs/protocol.md#jobs). v9/v10 use 1-4; master adds 5-7 (rq states).
JOB_QUEUED = 1
JOB_STARTED = 2
JOB_FINISHED = 3
JOB_FAILED = 4
JOB_CANCELED = 5
JOB_DEFERRED = 6
JOB_SCHEDULED = 7

# Result column types (TYPE_* in redash/query_runner/__init__.py); ``None`` is also valid.
TYPE_INTEGER = "integer"
TYPE_FLOAT = "float"
TYPE_BOOLEAN = "boolean"
TYPE_STRING = "string"
TYPE_DATETIME = "datetime"
TYPE_DATE = "date"
COLUMN_TYPES = (TYPE_INTEGER, TYPE_FLOAT, TYPE_BOOLEAN, TYPE_STRING, TYPE_DATETIME, TYPE_DATE)

# Parameter types (docs/protocol.md#parameters).
PARAMETER_TYPES = (
    "text",
    "text-pattern",
    "number",
    "enum",
    "query",
    "date",
    "datetime-local",
    "datetime-with-seconds",
    "date-range",
    "datetime-range",
    "datetime-range-with-seconds",
)

# Pagination limits (docs/protocol.md#pagination).
MAX_PAGE_SIZE = 250
DEFAULT_PAGE_SIZE = 25
