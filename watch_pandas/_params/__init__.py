"""Query parameters: definitions in, validated wire values out (docs/protocol.md#parameters).

The server never fills defaults and rejects dynamic tokens, so the client must send every
defined parameter, already in the shape the server checks. This package turns the query's
``options.parameters`` into :class:`ParameterDefinition` objects and converts natural Python
values (``date``, ``datetime``, ``pandas.Timestamp``, ``numpy.datetime64``, ISO strings,
``(start, end)`` pairs, lists, numbers) into that shape, raising
:class:`~watch_pandas.errors.ParameterError` before anything is executed. It never renders SQL.

Decisions (each one tested in ``tests/test_params.py``):

* **text** takes ``str``; an ``int`` is accepted as ``str(int)``. Other types (float, bool,
  Decimal, None) are refused: their ``str()`` is rarely what the SQL wants, so the caller
  converts them explicitly. A saved default of ``None`` for a text parameter is sent as ``""``.
* **number** takes ``int``, finite ``float``, finite ``Decimal`` and numeric strings
  (``"50"``, ``"1e3"``). Integral values are sent as JSON integers of any size; a ``Decimal`` or
  numeric string that a float cannot hold exactly is sent as its exact numeric string (the
  server accepts it and inserts it verbatim). ``bool``, NaN and infinity are refused.
* **enum / query** take ``str``, or an ``int`` as ``str(int)``. A multi-value parameter takes a
  list, tuple, 1-D numpy array or pandas Series of those (a scalar becomes a one-element list;
  an empty list is refused; a set is refused because its order, and so the SQL text, is not
  stable); a list for a single-value parameter is refused. Query-based dropdown options come
  from a callback; without one the membership check is skipped (the server still checks).
* **dates** are sent in the web UI's formats: ``YYYY-MM-DD``, ``YYYY-MM-DD HH:mm``,
  ``YYYY-MM-DD HH:mm:ss``. A ``date`` given to a datetime parameter means midnight. A datetime
  given to a date parameter is accepted only at exactly midnight (a ``pandas.Timestamp`` of a
  day is common). Precision is never dropped silently: seconds given to a minute parameter, or
  fractions of a second given to a seconds parameter, are refused — round the value yourself or
  use the finer parameter type. A timezone-aware value is sent as its own wall time, without
  conversion (the web UI likewise sends browser wall time); an offset in an ISO string is
  treated the same way.
* **dynamic tokens** (``d_now``, ``d_last_7_days``...) follow the web UI
  (``DateParameter``/``DateRangeParameter``, moment.js in the default ``en`` locale): weeks start
  on **Sunday**; ``d_last_N_days``, ``d_last_12_months`` and ``d_last_N_years`` run from the start
  of the day N units ago to the **end of today** (v10 behaviour; master's UI ends at "now",
  which differs only for datetime ranges — end-of-day keeps the SQL, and so the server's cache,
  stable through the day); ``d_last_hour``/``8_hours``/``24_hours`` end at now. ``now``
  defaults to the local wall clock.
* Parameter types this package does not know are passed through unchanged (the server
  validates them), so a newer server does not make whole queries unusable.

Modules, one job each:

- :mod:`._definitions`: :class:`ParameterDefinition` from the server's JSON;
- :mod:`._resolve`: a saved query's whole parameter set (:func:`resolve_parameters`), checked
  against names, saved defaults and dropdown options;
- :mod:`._values`: one value → its wire shape per type (:func:`to_wire`);
- :mod:`._dates`: date points parsed and formatted; :mod:`._dynamic`: ``d_...`` tokens;
- :mod:`._given`: ``params`` mappings and ``NAME=VALUE`` pairs; :mod:`._keys`: cache keys;
- :mod:`._adhoc`: ad-hoc SQL placeholders (no definitions);
- :mod:`._infer`: definitions for a query saved from ad-hoc SQL (:func:`infer_definitions`);
- :mod:`._ranges`: a date range split into consecutive parts (:func:`date_ranges`);
- :mod:`._common`: the type tables, tokens and message helpers they share.
"""

from __future__ import annotations

from ._adhoc import adhoc_parameters, adhoc_params_hint, placeholders
from ._common import DATE_TYPES, DYNAMIC_DATE_TOKENS, DYNAMIC_RANGE_TOKENS, RANGE_TYPES
from ._definitions import MultiValues, ParameterDefinition, parse_definitions
from ._dynamic import resolve_dynamic
from ._given import as_params, collect_pairs
from ._infer import infer_definitions
from ._keys import cache_key
from ._ranges import date_ranges
from ._resolve import check_dropdown_values, resolve_parameters
from ._values import to_wire

__all__ = [
    "MultiValues",
    "ParameterDefinition",
    "parse_definitions",
    "resolve_parameters",
    "check_dropdown_values",
    "as_params",
    "to_wire",
    "resolve_dynamic",
    "cache_key",
    "date_ranges",
    "collect_pairs",
    "placeholders",
    "adhoc_parameters",
    "adhoc_params_hint",
    "infer_definitions",
    "DYNAMIC_DATE_TOKENS",
    "DYNAMIC_RANGE_TOKENS",
    "DATE_TYPES",
    "RANGE_TYPES",
]
