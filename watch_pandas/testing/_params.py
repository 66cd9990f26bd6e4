"""Server-side query text handling: hashing, ``{{ name }}`` rendering and parameter validation.

An independent reading of docs/protocol.md#parameters and #result-caching (it must not share
code with the client's ``watch_pandas._params``): what a Redash master server does in
``gen_query_hash`` and ``redash/models/parameterized_query.py``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from numbers import Number
from typing import Any

from dateutil import parser as _dateparser

_COMMENTS = re.compile(r"/\*.*?\*/", re.DOTALL)
# pystache's tag grammar: "{{", spaces, then "{ key }" (a literal), or an optional type
# character and a key of *any* characters, then spaces and "}}". The key is matched lazily, so
# the spaces around it are trimmed and the ones inside kept: "{{ my param }}" is "my param",
# the web UI allows such names. Sections, partials and delimiter changes are not rendered.
_TAG = re.compile(
    r"\{\{\s*(?:\{\s*(?P<raw>.+?)\s*\}|(?P<kind>[!&#^/>]?)\s*(?P<key>[\s\S]+?))\s*\}\}"
)
_SUBSTITUTED = ("", "&")  # {{ x }} (escaping is off) and {{& x }}; {{{ x }}} too


class InvalidParameters(Exception):
    """Bad values or unknown names (400 "incompatible with their definitions")."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(
            "The following parameter values are incompatible with their definitions: "
            + ", ".join(names)
        )
        self.names = names


class DetachedDropdown(Exception):
    """A query-based dropdown whose source query has no data source."""

    message = "This query is detached from any data source. Please select a different query."


def query_hash(sql: str) -> str:
    """MD5 of the SQL with ``/* */`` comments removed and all whitespace deleted (master)."""
    text = "".join(_COMMENTS.sub("", sql).split())
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def template_names(sql: str) -> list[str]:
    """Top-level parameter names the template requires, in first-use order.

    Like Redash, only ``{{ name }}`` tags count: a literal ``{{{ name }}}``/``{{& name }}``
    renders as empty text when its value is missing.
    """
    seen: dict[str, None] = {}
    for match in _TAG.finditer(sql):
        if match.group("raw") is None and match.group("kind") == "":
            seen.setdefault(match.group("key").split(".")[0], None)
    return list(seen)


def _lookup(values: Mapping[str, Any], dotted: str) -> Any:
    value: Any = values
    for part in dotted.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        else:
            return ""
    return value


def _substitute(match: re.Match[str], values: Mapping[str, Any]) -> str:
    raw, kind = match.group("raw"), match.group("kind")
    if raw is not None:
        return str(_lookup(values, raw))
    if kind in _SUBSTITUTED:
        return str(_lookup(values, match.group("key")))
    if kind == "!":
        return ""  # a comment
    return match.group(0)


def render(sql: str, values: Mapping[str, Any]) -> str:
    """Substitute ``{{ name }}``/``{{ name.start }}`` verbatim as ``str(value)`` (no escaping)."""
    return _TAG.sub(lambda m: _substitute(m, values), sql)


def join_multi_values(definitions: Iterable[Mapping[str, Any]], values: dict[str, Any]) -> None:
    """Join list values in place: prefix+v+suffix with the separator (default ``,``)."""
    by_name = {d.get("name"): d for d in definitions}
    for name, value in list(values.items()):
        options = (by_name.get(name) or {}).get("multiValuesOptions") or {}
        if isinstance(value, list):
            prefix = str(options.get("prefix", ""))
            suffix = str(options.get("suffix", ""))
            separator = str(options.get("separator", ","))
            # Like the real server: non-string items raise (→ 500).
            values[name] = separator.join(prefix + item + suffix for item in value)


def _is_number(value: Any) -> bool:
    if isinstance(value, Number):
        return True
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _is_date(value: Any) -> bool:
    try:
        _dateparser.parse(value)
    except (TypeError, ValueError, OverflowError):
        return False
    return True


def _is_date_range(value: Any) -> bool:
    try:
        return _is_date(value["start"]) and _is_date(value["end"])
    except (KeyError, TypeError):
        return False


def _within(value: Any, options: list[str], allow_list: bool) -> bool:
    if isinstance(value, list):
        return allow_list and set(map(str, value)).issubset(set(options))
    return str(value) in options


def _enum_options(definition: Mapping[str, Any]) -> list[str]:
    options = definition.get("enumOptions") or ""
    if isinstance(options, list):
        return [str(o) for o in options]
    return str(options).split("\n")


def _validator(
    definition: Mapping[str, Any], dropdown_values: Callable[[int], list[str]]
) -> Callable[[Any], bool]:
    kind = definition.get("type")
    allow_list = bool(definition.get("multiValuesOptions"))
    if kind == "text":
        return lambda v: isinstance(v, str)
    if kind == "text-pattern":
        pattern = definition.get("regex") or ""
        return lambda v: isinstance(v, str) and re.fullmatch(pattern, v) is not None
    if kind == "number":
        return _is_number
    if kind == "enum":
        return lambda v: _within(v, _enum_options(definition), allow_list)
    if kind == "query":
        return lambda v: _within(v, dropdown_values(int(definition["queryId"])), allow_list)
    if kind in ("date", "datetime-local", "datetime-with-seconds"):
        return _is_date
    if kind in ("date-range", "datetime-range", "datetime-range-with-seconds"):
        return _is_date_range
    return lambda v: False


def validate(
    definitions: Iterable[Mapping[str, Any]],
    values: Mapping[str, Any],
    dropdown_values: Callable[[int], list[str]],
) -> None:
    """Raise InvalidParameters naming every supplied value that is unknown or invalid.

    ``dropdown_values(query_id)`` returns the allowed values of a query-based dropdown.
    """
    by_name = {d.get("name"): d for d in definitions}
    bad = [
        name
        for name, value in values.items()
        if name not in by_name or not _validator(by_name[name], dropdown_values)(value)
    ]
    if bad:
        raise InvalidParameters(bad)


def missing(sql: str, values: Mapping[str, Any]) -> list[str]:
    """Names used in the template but not supplied."""
    return [name for name in template_names(sql) if name not in values]


def is_safe(definitions: Iterable[Mapping[str, Any]]) -> bool:
    """False iff a ``text`` parameter exists (such a query can't run with its query key)."""
    return not any(d.get("type") == "text" for d in definitions)


def default_values(definitions: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Saved default values, multi-values joined: what master hashes the template with."""
    values = {d["name"]: d.get("value") for d in definitions if "name" in d}
    try:
        join_multi_values(definitions, values)
    except TypeError:
        pass
    return values


def stored_query_hash(sql: str, definitions: Iterable[Mapping[str, Any]]) -> str:
    """A saved query's ``query_hash``: its template rendered with defaults (master ≥ #6683)."""
    definitions = list(definitions)
    if not definitions:
        return query_hash(sql)
    return query_hash(render(sql, default_values(definitions)))


def dropdown_options_from_result(
    columns: list[dict[str, Any]], rows: list[dict]
) -> list[dict[str, Any]]:
    """A query-based dropdown's ``{name, value}`` options (docs/protocol.md#parameters): the
    ``name`` and ``value`` columns (any case), each else the first column; ``name`` keeps its
    JSON type, ``value`` is text."""
    if not columns:
        return []
    first = str(columns[0]["name"]).lower()
    out = []
    for row in rows:
        lowered = {str(k).lower(): v for k, v in row.items()}
        name = "name" if "name" in lowered else first
        value = "value" if "value" in lowered else first
        out.append({"name": lowered.get(name), "value": str(lowered.get(value))})
    return out
