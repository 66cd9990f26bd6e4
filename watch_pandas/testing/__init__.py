"""A local, SQLite-backed Inverse Watch / Redash server for demos and tests.

``LocalWatch`` serves the Watch HTTP API on 127.0.0.1 (an ephemeral port by default) with real
HTTP, so notebook code and our own end-to-end tests can run offline; ``serve()`` runs one in the
foreground for the ``watch-pandas serve`` command. The pytest plugin
(``watch_pandas.testing.plugin``) provides the ``local_watch`` and ``local_watch_demo`` fixtures.

This package is a second, independent reading of the protocol: it does not import the client's
parameter, decoding or execution code.
"""

from __future__ import annotations

from ._faults import Counters, Faults
from ._server import LocalWatch, serve

__all__ = ["LocalWatch", "serve", "Faults", "Counters"]
