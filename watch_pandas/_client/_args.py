"""Argument checks of :class:`~watch_pandas._client.WatchClient` (no client state, no request).

Each turns a caller's value into the wire value, or raises a :class:`ConfigError` saying what
would be right, before anything is sent.
"""

from __future__ import annotations

import math
import numbers
import re
from typing import TypeGuard

from .._config import link_instead_of_id
from .._constants import MAX_PAGE_SIZE
from ..errors import ConfigError

RESULT_FORMATS = ("json", "csv", "tsv", "xlsx")


def as_id(value: object, name: str) -> int:
    """A positive integer id from an int or a digit string."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and int(value) > 0:
        return int(value)  # numpy integers (ids out of a DataFrame) as plain ints
    if isinstance(value, str) and value.strip().isdigit() and int(value) > 0:
        return int(value)
    link = link_instead_of_id(value, name)
    if link is not None:
        raise ConfigError(link)
    raise ConfigError(f"{name} must be a positive integer id like 42, not {value!r}.")


def as_job_id(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"job_id must be the job's id string (a UUID), not {value!r}.")
    return value.strip()


def check_format(fmt: object) -> str:
    if fmt not in RESULT_FORMATS:
        raise ConfigError(
            f"Unknown result format {fmt!r}; use one of {', '.join(RESULT_FORMATS)} (lower case)."
        )
    return str(fmt)


def check_page_size(page_size: object) -> None:
    if (
        isinstance(page_size, bool)
        or not isinstance(page_size, int)
        or not 1 <= page_size <= MAX_PAGE_SIZE
    ):
        raise ConfigError(
            f"page_size must be an integer from 1 to {MAX_PAGE_SIZE}, not {page_size!r}."
        )


def check_timeout(timeout: object) -> tuple[float, float]:
    if positive_seconds(timeout):
        return (float(timeout), float(timeout))
    if isinstance(timeout, tuple) and len(timeout) == 2 and all(map(positive_seconds, timeout)):
        return (float(timeout[0]), float(timeout[1]))
    raise ConfigError(
        f"timeout must be seconds > 0 or a (connect, read) pair like (10, 300), not {timeout!r}."
    )


def positive_seconds(value: object) -> TypeGuard[numbers.Real]:
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and float(value) > 0
    )


def max_age_value(max_age: object) -> int:
    if max_age is None:
        return -1
    if not isinstance(max_age, numbers.Integral) or isinstance(max_age, bool) or max_age < -1:
        raise ConfigError(
            f"max_age must be seconds (an int >= 0), -1 or None for any age, not {max_age!r}."
        )
    return int(max_age)


def major_version(version: str | None) -> int | None:
    """The leading number of a server version (``"8.0.0+b32245"`` → 8), or ``None``."""
    match = re.match(r"\s*v?(\d+)", version or "")
    return int(match.group(1)) if match else None
