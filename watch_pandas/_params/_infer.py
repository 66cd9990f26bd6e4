"""Parameter definitions for a query saved from ad-hoc SQL: inferred from the SQL's ``{{ }}``
placeholders and the values it ran with, which become the saved defaults.

The definitions are the JSON objects the web UI saves (docs/protocol.md#parameters), chosen so
that the saved query, read with the same values, renders the SQL the ad-hoc run rendered (and
so returns the same frame): a ``str`` is ``text``, a number ``number``, a date (or a naive
datetime at midnight, as :func:`~._adhoc.adhoc_parameters` sends a day) ``date``, another
datetime ``datetime-with-seconds``, a list a multi-value ``enum`` (options: its values; joined
with a plain ``,`` as the ad-hoc run joined it), and a name read as ``{{ p.start }}`` /
``{{ p.end }}`` a ``date-range`` or ``datetime-range-with-seconds``. What no saved type holds
(fractions of a second, a dict read by other keys, an empty list) is refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from ..errors import ParameterError
from ._adhoc import _nest_dotted, _tags, adhoc_parameters, adhoc_params_hint, placeholders
from ._common import _short_repr
from ._definitions import MultiValues, ParameterDefinition
from ._given import as_params
from ._values import to_wire

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_SECONDS = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
_FRACTION = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d+")
_PLAIN_JOIN = MultiValues(prefix="", suffix="", separator=",")
_SAVED_KINDS = (
    "a string (text), a number, a date or datetime, a list (a multi-value dropdown), or a "
    "(start, end) pair of dates or datetimes read as {{ name.start }}/{{ name.end }}"
)


def infer_definitions(
    sql: str,
    params: Mapping[str, object] | None,
    *,
    existing: Sequence[Mapping[str, Any]] = (),
) -> list[dict[str, Any]]:
    """The ``options.parameters`` of a query saved from ``sql`` run with ``params``.

    Every placeholder needs a value (it becomes the default). A definition in ``existing``
    (the query's saved ones, when it is updated) is kept, with the new default, when the value
    fits it and renders the same SQL text, so titles, enum options and dropdown queries set in
    the web UI survive a save; otherwise the inferred definition replaces it.
    """
    names = placeholders(sql)
    given = _nest_dotted(as_params(params), set(names))
    missing = [name for name in names if name not in given]
    if missing:
        raise ParameterError(
            f"The SQL's parameter(s) {', '.join(map(repr, missing))} have no value: a saved "
            "query's parameters are inferred from the values given, which become their "
            f"defaults; {adhoc_params_hint(missing)}.",
            name=missing[0],
            allowed=_SAVED_KINDS,
        )
    wire = adhoc_parameters(sql, given)  # the values' shapes, checked as for a run
    parts: dict[str, set[str]] = {}
    for tag in _tags(sql):
        if len(tag.path) > 1:
            parts.setdefault(tag.path[0], set()).add(tag.path[1])
    saved = {str(d.get("name")): d for d in existing if isinstance(d, Mapping)}
    definitions = []
    for name in names:
        inferred = _infer_one(name, given[name], wire[name], parts.get(name))
        kept = _kept(saved.get(name), given[name], wire[name])
        definitions.append(kept if kept is not None else inferred)
    return definitions


def _infer_one(name: str, value: object, wire: object, parts: set[str] | None) -> dict[str, Any]:
    definition: dict[str, Any] = {"name": name, "title": _title(name)}
    if parts or isinstance(wire, Mapping):
        if not parts or not parts <= {"start", "end"} or not isinstance(wire, Mapping):
            read = ", ".join(f"{{{{ {name}.{part} }}}}" for part in sorted(parts or ()))
            raise _refusal(
                name,
                value,
                f"the SQL reads it as {read or 'a whole dict'}, but a saved parameter is one "
                f"value or a range read as {{{{ {name}.start }}}}/{{{{ {name}.end }}}}",
            )
        kinds = {_point_kind(name, wire.get(end), value, range_=True) for end in ("start", "end")}
        if len(kinds) > 1:
            raise _refusal(name, value, "a range's two ends must both be dates or both datetimes")
        kind = kinds.pop()
        definition["type"] = "date-range" if kind == "date" else "datetime-range-with-seconds"
        definition["value"] = {"start": wire["start"], "end": wire["end"]}
        return definition
    if isinstance(wire, list):
        if not wire:
            raise _refusal(name, value, "an empty list has no options to save")
        definition["type"] = "enum"
        definition["value"] = list(wire)
        definition["enumOptions"] = "\n".join(dict.fromkeys(wire))
        definition["multiValuesOptions"] = {"prefix": "", "suffix": "", "separator": ","}
        return definition
    if isinstance(value, str):
        definition.update(type="text", value=wire)
    elif isinstance(wire, (int, float)) or isinstance(value, Decimal):
        definition.update(type="number", value=wire)
    else:  # dates and datetimes, sent as their text
        kind = _point_kind(name, wire, value, range_=False)
        definition.update(type=kind, value=wire)
    return definition


def _point_kind(name: str, text: object, value: object, *, range_: bool) -> str:
    """``date`` or ``datetime-with-seconds`` for a point's wire text, else a refusal."""
    if isinstance(text, str) and _DATE.fullmatch(text):
        return "date"
    if isinstance(text, str) and _SECONDS.fullmatch(text):
        return "datetime-with-seconds"
    if isinstance(text, str) and _FRACTION.fullmatch(text):
        raise _refusal(
            name,
            value,
            f"{text} has fractions of a second, which no saved parameter type holds (the finest "
            "is whole seconds); round it first, e.g. value.replace(microsecond=0)",
        )
    if range_:
        raise _refusal(
            name,
            value,
            "a range's ends must be dates or datetimes (date, datetime, or text like "
            "2024-01-31 or 2024-01-31 12:00:00)",
        )
    raise _refusal(name, value, "cannot save this value as a parameter")


def _kept(existing: Mapping[str, Any] | None, value: object, wire: object) -> dict | None:
    """``existing`` with ``value`` as its default when it takes the value to the same text."""
    if existing is None:
        return None
    try:
        definition = ParameterDefinition.from_json(dict(existing))
        if definition.is_multi and definition.multi != _PLAIN_JOIN:
            return None  # quoted or otherwise joined: the SQL would render differently
        converted = to_wire(definition, value)
    except ParameterError:
        return None
    if _as_text(converted) != _as_text(wire):
        return None
    return {**existing, "value": converted}


def _as_text(wire: object) -> object:
    """What the server's rendering makes of a wire value (``5`` and ``"5"`` are both 5)."""
    if isinstance(wire, Mapping):
        return {key: _as_text(item) for key, item in wire.items()}
    if isinstance(wire, list):
        return [_as_text(item) for item in wire]
    return str(wire)


def _title(name: str) -> str:
    """The web UI's default title: underscores as spaces, the first letter upper case."""
    text = name.replace("_", " ")
    return text[:1].upper() + text[1:]


def _refusal(name: str, value: object, problem: str) -> ParameterError:
    return ParameterError(
        f"Parameter {name!r} cannot be saved: {problem}. Given: {_short_repr(value)}. "
        f"A saved parameter is {_SAVED_KINDS}.",
        name=name,
        value=value,
        allowed=_SAVED_KINDS,
    )
