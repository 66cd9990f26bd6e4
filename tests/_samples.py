"""The recorded real-server exchanges in tests/samples/, for every test folder.

Importable from any test module (``pythonpath`` in pyproject.toml):
``from _samples import load_sample, sample_body``; the root conftest's ``sample`` fixture
returns ``load_sample``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SAMPLES_DIR = Path(__file__).parent / "samples"


def load_sample(name: str) -> dict[str, Any]:
    """One recorded exchange by file name, ``.json`` optional (e.g. ``"01-auth-bad-key"``):
    ``{"status": ..., "body": ..., ...}``, read afresh (the caller may change it)."""
    path = SAMPLES_DIR / (name if name.endswith(".json") else f"{name}.json")
    return json.loads(path.read_text(encoding="utf-8"))


def sample_body(name: str) -> Any:
    """The server's body of a recorded exchange (a fresh copy)."""
    return load_sample(name)["body"]
