"""A local, SQLite-backed Inverse Watch / Redash server for demos and tests.

``LocalWatch`` serves the Watch HTTP API on 127.0.0.1 (an ephemeral port by default) with real
HTTP, so notebook code and our own end-to-end tests can run offline; ``serve()`` runs one in the
foreground for the ``watch-pandas serve`` command. The pytest plugin
(``watch_pandas.testing.plugin``) provides the ``local_watch`` and ``local_watch_demo`` fixtures.
The server needs the ``server`` extra (werkzeug, python-dateutil).

This package is a second, independent reading of the protocol: it does not import the client's
parameter, decoding or execution code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._faults import Counters, Faults

if TYPE_CHECKING:
    from ._server import LocalWatch, serve

__all__ = ["LocalWatch", "serve", "Faults", "Counters"]

# Packages of the ``server`` extra, by import name.
SERVER_EXTRA = ("werkzeug", "dateutil")
INSTALL_SERVER = 'pip install "watch-pandas[server]"'


def __getattr__(name: str) -> Any:
    # Imported on first use: the pytest plugin imports this package in every pytest run
    # wherever watch-pandas is installed, and the server (werkzeug) is an optional extra.
    if name not in ("LocalWatch", "serve"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        from . import _server
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").partition(".")[0]
        if missing not in SERVER_EXTRA:
            raise
        raise ModuleNotFoundError(
            f"the local Watch server needs {missing}, which is not installed: {INSTALL_SERVER}",
            name=missing,
        ) from exc
    return getattr(_server, name)
