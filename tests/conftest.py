"""Shared fixtures: the recorded real-server samples (copied into tests/samples/)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

SAMPLES_DIR = Path(__file__).parent / "samples"


def load_sample(name: str) -> dict[str, Any]:
    """One recorded exchange by file name, ``.json`` optional (e.g. ``"01-auth-bad-key"``)."""
    path = SAMPLES_DIR / (name if name.endswith(".json") else f"{name}.json")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture
def sample() -> Callable[[str], dict[str, Any]]:
    """Loader of recorded exchanges: ``sample("18-params-missing")["body"]``."""
    return load_sample


@pytest.fixture(autouse=True)
def _isolated_watch_cache(tmp_path, monkeypatch):
    """Every test gets its own local result cache; none touches the user's real one."""
    monkeypatch.setenv("WATCH_CACHE_DIR", str(tmp_path / "watch-cache"))
    monkeypatch.delenv("WATCH_OFFLINE", raising=False)
