"""pytest plugin: ``local_watch`` and ``local_watch_demo`` fixtures (filled in below)."""

from __future__ import annotations
