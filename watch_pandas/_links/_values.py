"""The web UI's parameter encoding in links (``p_<name>=``) read as ``params``."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .. import _cache as _cache
from .. import _params as _params
from .. import _read as _read
from ..errors import ParameterError

if TYPE_CHECKING:  # pragma: no cover
    from ..models import Dashboard

from ._parse import WatchLink


# -- the web UI's parameter encoding -----------------------------------------------------------
def link_values(
    definitions: Sequence[_params.ParameterDefinition], raw: Mapping[str, Any]
) -> dict[str, Any]:
    """A link's ``p_`` values as ``params`` for the query's ``definitions`` (module docstring).

    Names the query does not define are passed on as they are (the read refuses them, listing
    the names it has)."""
    by_name = {definition.name: definition for definition in definitions}
    values: dict[str, Any] = {}
    for name, value in raw.items():
        definition = by_name.get(name)
        if definition is None:
            values[name] = value
        elif definition.type in _params.RANGE_TYPES:
            values[name] = _range(name, value)
        elif definition.multi is not None and definition.type in ("enum", "query"):
            values[name] = _multi(name, value)
        elif isinstance(value, dict):
            raise ParameterError(
                f"Parameter {name!r} is a {definition.type} parameter, not a range: give it "
                f"as p_{name}=<value>, not p_{name}.start/p_{name}.end.",
                name=name,
                value=value,
                allowed=f"p_{name}=<value>",
            )
        else:
            values[name] = value
    return values


def _range(name: str, value: Any) -> Any:
    if isinstance(value, dict):
        missing = [f"p_{name}.{end}" for end in ("start", "end") if end not in value]
        if missing:
            raise ParameterError(
                f"The link gives only part of the range {name!r}: {', '.join(missing)} is "
                f"missing (a range is p_{name}=<start>--<end>).",
                name=name,
                value=value,
                allowed=f"p_{name}=<start>--<end>",
            )
        return {"start": value["start"], "end": value["end"]}
    if value in _params.DYNAMIC_RANGE_TOKENS:
        return value
    start, dashes, end = str(value).partition("--")
    if not dashes:
        raise ParameterError(
            f"The link's value {value!r} for the range {name!r} is not <start>--<end> (such "
            f"as p_{name}=2024-01-01--2024-01-31) nor a dynamic range such as d_last_7_days.",
            name=name,
            value=value,
            allowed=f"p_{name}=<start>--<end>",
        )
    return {"start": start, "end": end}


def _multi(name: str, value: Any) -> Any:
    if not isinstance(value, str) or not value.lstrip().startswith("["):
        return value  # one value (the read makes it a one-element list)
    try:
        items = json.loads(value)
    except ValueError:
        items = None
    if not isinstance(items, list) or not all(isinstance(i, (str, int)) for i in items):
        raise ParameterError(
            f"The link's value for the multi-value parameter {name!r} is not a JSON array of "
            f'values (such as p_{name}=["a","b"]), as the web UI writes it.',
            name=name,
            value=value,
            allowed='a JSON array such as ["a","b"]',
        )
    return [str(item) for item in items]


def dashboard_values(
    board: Dashboard, link: WatchLink
) -> tuple[dict[str, Any], dict[int, dict[str, Any]]]:
    """The link's dashboard-level and widget-level values, read with the definitions of the
    widgets' queries (a dashboard parameter takes the type of the first widget mapped to it)."""
    from .._dashboards import DASHBOARD_LEVEL, _mappings

    shared: dict[str, _params.ParameterDefinition] = {}
    widgets = {widget.id: widget for widget in board.widgets}
    for widget in board.widgets:
        if widget.query is None:
            continue
        named = {d.name: d for d in _params.parse_definitions(widget.query.parameters)}
        for name, kind, mapping in _mappings(widget):
            if kind == DASHBOARD_LEVEL and name in named:
                shared.setdefault(mapping.get("mapTo") or name, named[name])
    renamed = {source: _renamed(d, source) for source, d in shared.items()}
    params = link_values(list(renamed.values()), link.params)
    per_widget: dict[int, dict[str, Any]] = {}
    for widget_id, raw in link.widget_params.items():
        found = widgets.get(widget_id)
        query = found.query if found is not None else None
        definitions = _params.parse_definitions(query.parameters) if query is not None else []
        per_widget[widget_id] = link_values(definitions, raw)
    return params, per_widget


def _renamed(definition: _params.ParameterDefinition, name: str) -> _params.ParameterDefinition:
    from dataclasses import replace

    return replace(definition, name=name)
