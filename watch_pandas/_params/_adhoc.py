"""Ad-hoc SQL placeholders (Mustache tags): which names the SQL needs and their wire values."""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal

from ..errors import ParameterError
from ._common import _is_array, _is_datetime64, _short_repr
from ._given import as_params

# --- ad-hoc SQL (no definitions: the server substitutes whatever it is sent) ---------------
# The server renders with Mustache. A tag's name is whatever stands between the braces, trimmed
# (the web UI allows spaces and any letters), and a dotted name "{{ p.foo }}" reads key "foo"
# of the value of "p". Before running, the server requires a value for every "{{ name }}" and
# section "{{# name }}" ("Missing parameter value for: ..."); a literal "{{{ name }}}" or
# "{{& name }}" and an inverted section "{{^ name }}" render as empty text without one.
# "{{! ... }}" is a comment; closing tags, partials and delimiter changes name no value.
_TAG = re.compile(
    r"\{\{\s*(?:\{\s*(?P<raw>.+?)\s*\}|(?P<kind>[!&#^/>=]?)\s*(?P<key>[\s\S]+?))\s*\}\}"
)
_REQUIRED_KINDS = ("", "#")
_VALUE_KINDS = ("", "#", "&", "^")
_RANGE_PARTS = ("start", "end")


def _adhoc_allowed(top: str) -> str:
    """What an ad-hoc parameter may be, shown with its own name."""
    return (
        f"a string, finite number, date, datetime, list, a dict for {{{{ {top}.key }}}}, "
        f"or (start, end) for {{{{ {top}.start }}}}"
    )


@dataclass(frozen=True)
class _Tag:
    path: tuple[str, ...]  # ("p", "foo") for {{ p.foo }}
    required: bool


def placeholders(sql: str) -> list[str]:
    """Top-level names of the value tags in ``sql`` (``{{ p.start }}`` is ``p``), in order."""
    return list(dict.fromkeys(tag.path[0] for tag in _tags(sql)))


def _tags(sql: str) -> list[_Tag]:
    found = []
    for match in _TAG.finditer(sql):
        raw, kind = match.group("raw"), match.group("kind")
        if raw is None and kind not in _VALUE_KINDS:
            continue
        name = raw if raw is not None else match.group("key")
        if name != ".":  # "{{ . }}" is the current item inside a section, not a parameter
            found.append(_Tag(tuple(name.split(".")), raw is None and kind in _REQUIRED_KINDS))
    return found


def adhoc_parameters(sql: str, given: Mapping[str, object] | None) -> dict[str, object]:
    """Wire values for ad-hoc SQL: every required placeholder must be given, and only names
    the SQL uses.

    A name read as ``{{ p.key }}`` takes a dict (``NAME.KEY`` pairs from the command line
    or ``%%watch`` are nested the same way); one read only as ``{{ p.start }}``/``{{ p.end }}``
    also takes a ``(start, end)`` pair. Any other sequence becomes a list of strings, which the
    server joins with ``,`` *unquoted* (quote the items yourself for text, or use a saved
    query's multi-value parameter). Dates become ``YYYY-MM-DD`` (naive datetimes at midnight
    too), other datetimes ``YYYY-MM-DD HH:MM:SS[.ffffff]``. NaN, infinity, NaT and None have
    no SQL text and are refused.
    """
    tags = _tags(sql)
    given = _nest_dotted(as_params(given), {tag.path[0] for tag in tags})
    names = placeholders(sql)
    _check_required([tag for tag in tags if tag.path[0] not in given and tag.required])
    unknown = [n for n in given if n not in names]
    if unknown:
        raise ParameterError(
            f"Parameter(s) {', '.join(map(repr, unknown))} do not appear in the SQL "
            f"(placeholders: {', '.join(map(repr, names)) or 'none'}).",
            name=unknown[0],
            value=given[unknown[0]],
            allowed=", ".join(names) or "no parameters",
        )
    parts: dict[str, set[str]] = {}
    for tag in tags:
        if len(tag.path) > 1:
            parts.setdefault(tag.path[0], set()).add(tag.path[1])
    wire = {name: _adhoc_value(name, value, parts.get(name)) for name, value in given.items()}
    _check_required([tag for tag in tags if tag.required and not _has_path(wire, tag.path)])
    return wire


def _nest_dotted(given: dict[str, object], names: Collection[str]) -> dict[str, object]:
    """``{"p.foo": 1}`` → ``{"p": {"foo": 1}}`` when the SQL reads ``p`` (a Mustache name
    with a dot is always a path, so the flat key could never be rendered)."""
    for key in [k for k in given if isinstance(k, str) and "." in k and k not in names]:
        top, *rest = key.split(".")
        if top not in names:
            continue
        node = given.setdefault(top, {})
        for part in rest[:-1]:
            node = node.setdefault(part, {}) if isinstance(node, dict) else node
        if not isinstance(node, dict):
            raise ParameterError(
                f"Parameter {top!r} is given both as a value and as {key!r}.",
                name=top,
                value=given[key],
                allowed=f"either {top}=VALUE or {key}=VALUE",
            )
        node[rest[-1]] = given.pop(key)
    return given


def _has_path(values: Mapping[str, object], path: Sequence[str]) -> bool:
    node: object = values
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


def _check_required(missing: Sequence[_Tag]) -> None:
    if not missing:
        return
    names = list(dict.fromkeys(".".join(tag.path) for tag in missing))
    raise ParameterError(
        f"The SQL needs a value for {', '.join(map(repr, names))}; {adhoc_params_hint(names)}.",
        name=names[0],
        allowed="a value for every {{ name }} in the SQL",
    )


def adhoc_params_hint(names: Sequence[str]) -> str:
    """What to pass for the ad-hoc placeholders ``names``: ``['p.foo', 'x']`` →
    ``"pass params={'p': {'foo': ...}, 'x': ...}"``."""
    shown = []
    for name in names:
        top, *rest = name.split(".")
        inner = "..."
        for part in reversed(rest):
            inner = f"{{{part!r}: {inner}}}"
        shown.append(f"{top!r}: {inner}")
    return f"pass params={{{', '.join(shown)}}}"


def _adhoc_value(name: str, value: object, parts: set[str] | None) -> object:
    if parts and not isinstance(value, Mapping):
        if parts <= set(_RANGE_PARTS) and isinstance(value, (tuple, list)) and len(value) == 2:
            return {"start": _adhoc_scalar(name, value[0]), "end": _adhoc_scalar(name, value[1])}
        if parts <= set(_RANGE_PARTS):
            raise _adhoc_error(name, value, "the SQL uses it as a range: give (start, end)")
        keys = ", ".join(f"{part!r}: ..." for part in sorted(parts))
        raise _adhoc_error(name, value, f"the SQL reads keys of it: give a dict {{{keys}}}")
    return _adhoc_tree(name, value)


def _adhoc_tree(name: str, value: object) -> object:
    if isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            raise _adhoc_error(name, value, "a dict's keys are names in the SQL: use strings")
        return {key: _adhoc_tree(f"{name}.{key}", item) for key, item in value.items()}
    if isinstance(value, (set, frozenset)):
        raise _adhoc_error(name, value, "a set has no order (the SQL text would vary); use a list")
    if isinstance(value, (list, tuple)) or _is_array(value):
        items = [_adhoc_scalar(f"{name}[{i}]", item) for i, item in enumerate(value)]
        return [str(item) for item in items]
    return _adhoc_scalar(name, value)


def _adhoc_scalar(name: str, value: object) -> object:
    if type(value).__name__ == "NaTType" or _is_datetime64(value):
        return _adhoc_datetime64(name, value)
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars
        value = value.item()
    if isinstance(value, bool):
        raise _adhoc_error(name, value, "a bool is ambiguous in SQL; pass 1/0 or 'true'/'false'")
    if value is None or type(value).__name__ == "NAType":
        raise _adhoc_error(name, value, f"{value} has no SQL text; pass 'NULL' if that is meant")
    if isinstance(value, (float, Decimal)):
        finite = value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)
        if not finite:  # JSON has no NaN, and SQL has no text for it
            raise _adhoc_error(
                name, value, "NaN and infinity cannot be sent; pass a finite number, or 'NULL'"
            )
        return str(value) if isinstance(value, Decimal) else value
    if isinstance(value, (str, int)):
        return value
    if isinstance(value, datetime):
        if value.time() == time() and value.tzinfo is None and not getattr(value, "nanosecond", 0):
            return value.date().isoformat()  # pd.Timestamp("2024-02-01") means a day
        # isoformat keeps a four-digit year (strftime's %Y drops the zeros of 0999)
        return value.replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    kind = type(value).__name__
    article = "an" if kind[:1].lower() in "aeiou" else "a"
    raise _adhoc_error(name, value, f"cannot send {article} {kind}")


def _adhoc_datetime64(name: str, value: object) -> object:
    """A ``numpy.datetime64`` (or NaT) with all its digits (``.item()`` gives an int for ns)."""
    import pandas as pd  # lazily: only reached for numpy/pandas input

    try:
        moment = pd.Timestamp(value)
    except (ValueError, OverflowError):
        raise _adhoc_error(name, value, "is outside the dates pandas can hold") from None
    if moment is pd.NaT:
        raise _adhoc_error(name, value, "NaT (not a time) has no SQL text")
    return _adhoc_scalar(name, moment)


def _adhoc_error(path: str, value: object, problem: str) -> ParameterError:
    """The refusal of the value at ``path`` (``p``, ``p.a`` or ``p[1]``) of parameter ``p``."""
    top = path.split(".")[0].split("[")[0]
    return ParameterError(
        f"Parameter {path!r} of the SQL: {problem}. Given: {_short_repr(value)}. "
        f"Allowed: {_adhoc_allowed(top)}.",
        name=top,
        value=value,
        allowed=_adhoc_allowed(top),
    )
