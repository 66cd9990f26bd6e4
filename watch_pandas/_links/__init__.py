"""``read_watch_url``: a pasted Watch link read through the usual pipeline (docs/links.md).

A link is first parsed into a :class:`WatchLink` (which route, which ids, the web UI's
parameter values, the server's base address, the key), then read as what it names: a stored
result by id, a query's latest result, a query page with its parameters (all through
:mod:`watch_pandas._read`), or a dashboard page (:func:`watch_pandas.read_watch_dashboard`).

Decisions:

* **The server** is the link's own (scheme, host, port and a multi-org prefix), unless ``url=``
  names another one.
* **The key**: ``api_key=``, else the link's ``?api_key=``, else the configured key (arguments,
  environment, profile). The link's key is only sent to the link's own server, and a configured
  key only to its configured server: a link for another server is refused, naming both, rather
  than sending a key somewhere it does not belong. ``client=`` must talk to the link's server;
  its own key is used. The key always travels in the ``Authorization`` header: it is taken out
  of the link and never appears in a URL, ``attrs``, a message, a repr, progress or the cache.
* **Downloads** (``.csv``, ``.tsv``, ``.xlsx``) are read through the JSON route of the same
  result, which keeps the column types; the CSV drops them (docs/protocol.md#csv-and-tsv-downloads).
* A query's **latest result** (``/api/queries/<id>/results``) is read as a query read with
  ``max_age=None``: the server's cached result of any age, as the link gives it.
* **Parameters** (``p_<name>``) follow the web UI's encoding: a range as ``start--end`` or (older
  links) ``p_<name>.start``/``p_<name>.end``, a multi-value list as a JSON array, dynamic
  values (``d_last_7_days``) as they are. A dashboard's widget-level values are
  ``p_w<widget id>_<name>``. ``params=`` given with a link override the link's values.
"""

from __future__ import annotations

from ._parse import FORMS, WatchLink, parse_link
from ._read import read_link, read_watch_url
from ._values import link_values

__all__ = ["WatchLink", "parse_link", "link_values", "read_watch_url", "read_link", "FORMS"]
