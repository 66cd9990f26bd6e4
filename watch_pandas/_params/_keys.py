"""Cache keys of parameter sets."""

from __future__ import annotations

import json
from collections.abc import Mapping


def cache_key(wire: Mapping[str, object]) -> str:
    """A stable, canonical JSON text of wire parameters (sorted keys, no whitespace)."""
    return json.dumps(
        wire, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
