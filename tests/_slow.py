"""The suite's slow-test policy (described at the top of tests/conftest.py).

Importable from any test module (``pythonpath`` in pyproject.toml): ``from _slow import examples``.
"""

from __future__ import annotations

import os
import re

from hypothesis import settings

SLOW_ENV = "WATCH_SLOW_TESTS"
SLOW_FACTOR = 10  # property tests try this many times more examples in the slow run
DEFAULT_EXAMPLES = 100  # Hypothesis' own default

settings.register_profile("default", max_examples=DEFAULT_EXAMPLES)
settings.register_profile("slow", max_examples=DEFAULT_EXAMPLES * SLOW_FACTOR)

_slow_run = False


def wanted(markexpr: str) -> bool:
    """A slow run: ``$WATCH_SLOW_TESTS`` set (not "0"), or ``-m`` selecting ``slow``."""
    if os.environ.get(SLOW_ENV, "") not in ("", "0"):
        return True
    return bool(re.search(r"\bslow\b", markexpr)) and not re.search(r"\bnot\s+slow\b", markexpr)


def configure(slow_run: bool) -> None:
    """Called once by the root conftest, before any test module is imported."""
    global _slow_run
    _slow_run = slow_run
    settings.load_profile("slow" if slow_run else "default")


def slow_run() -> bool:
    return _slow_run


def examples(default: int) -> int:
    """``max_examples`` of a property: ``default`` normally, ``SLOW_FACTOR`` times more in the
    slow run (the profiles do the same for properties that leave the count to Hypothesis)."""
    return default * SLOW_FACTOR if _slow_run else default
