"""A parameter set for a saved query: every defined parameter, given or from its saved default."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime

from ..errors import ParameterError
from ._common import _error, _short_repr
from ._definitions import ParameterDefinition
from ._given import as_params
from ._values import _convert

# A value the server saved elsewhere (a dashboard's shared default or static value).
_SAVED_ELSEWHERE = "saved dashboard value"


def resolve_parameters(
    definitions: Sequence[ParameterDefinition],
    given: Mapping[str, object] | None = None,
    *,
    now: datetime | None = None,
    dropdown_options: Callable[[ParameterDefinition], Sequence[str]] | None = None,
    query_id: int | None = None,
    saved: Collection[str] = (),
) -> dict[str, object]:
    """Validate `given` against the definitions and return the wire `parameters` dict.

    The result holds EVERY defined parameter: given values converted to the wire shape, the
    rest from saved defaults with dynamic tokens resolved. Raises ParameterError(name=, value=,
    allowed=) before anything runs. ``dropdown_options`` is called (at most once per
    query-based parameter) for the options of a dropdown; ``query_id`` only feeds messages.
    ``saved`` names given values that come from the server's saved settings (a dashboard's
    shared default or static value), not from the caller: like saved defaults, they are
    formatted to the parameter's precision instead of refused for being finer.
    """
    given = as_params(given)
    now = now if now is not None else datetime.now()
    by_name = {definition.name: definition for definition in definitions}
    _check_names(given, by_name, query_id)
    return {
        definition.name: _resolve_one(
            definition,
            given,
            now=now,
            dropdown_options=dropdown_options,
            query_id=query_id,
            saved=saved,
        )
        for definition in definitions
    }


def check_dropdown_values(
    definitions: Sequence[ParameterDefinition],
    given: Mapping[str, object] | None,
    dropdown_options: Callable[[ParameterDefinition], Sequence[str]],
    *,
    query_id: int | None = None,
    saved: Collection[str] = (),
) -> None:
    """Check the values of query-based dropdowns against their options (``dropdown_options``
    is called once per such parameter), raising the ParameterError
    :func:`resolve_parameters` would raise with the same ``dropdown_options``.

    Called apart from :func:`resolve_parameters` so that the options, a request each, are
    fetched only when they are needed; the wire values do not depend on them.
    """
    given = as_params(given)
    for definition in definitions:
        if definition.type == "query" and definition.query_id:
            _resolve_one(
                definition,
                given,
                now=datetime.now(),  # not read: a dropdown value is no date
                dropdown_options=dropdown_options,
                query_id=query_id,
                saved=saved,
            )


def _resolve_one(
    definition: ParameterDefinition,
    given: Mapping[str, object],
    *,
    now: datetime,
    dropdown_options: Callable[[ParameterDefinition], Sequence[str]] | None,
    query_id: int | None,
    saved: Collection[str],
) -> object:
    """One parameter's wire value: given, or its saved default (see resolve_parameters)."""
    from_default = definition.name not in given
    value = definition.default if from_default else given[definition.name]
    if from_default and _is_unset(definition, value):
        if definition.type in ("text", "text-pattern") and value is None:
            value = ""
        else:
            raise _error(
                definition,
                value,
                "missing value: it has no saved default, so it must be given",
                definition.describe_allowed(),
                query_id,
            )
    options = None
    # No source query in the definition: no options to check here (the query's own
    # /dropdown would list the wrong ones); the server decides.
    if definition.type == "query" and dropdown_options is not None and definition.query_id:
        options = [str(option) for option in dropdown_options(definition)]
    return _convert(
        definition,
        value,
        now=now,
        query_options=options,
        query_id=query_id,
        from_default=from_default or definition.name in saved,
        source=None if from_default or definition.name not in saved else _SAVED_ELSEWHERE,
    )


def _check_names(
    given: Mapping[str, object], by_name: Mapping[str, ParameterDefinition], query_id: int | None
) -> None:
    known = ", ".join(repr(name) for name in by_name) or "none (the query takes no parameters)"
    for name, value in given.items():
        if name in by_name:
            continue
        where = f" of query {query_id}" if query_id is not None else ""
        hint = difflib.get_close_matches(str(name), list(by_name), n=1)
        suggestion = f" Did you mean {hint[0]!r}?" if hint else ""
        raise ParameterError(
            f"Unknown parameter {_short_repr(name)}{where}.{suggestion} Known parameters: {known}.",
            name=str(name),
            value=value,
            allowed=f"one of the defined names: {known}",
            query_id=query_id,
        )


def _is_unset(definition: ParameterDefinition, value: object) -> bool:
    if value is None:
        return True
    if definition.type in ("text", "text-pattern"):
        return False  # "" is a legitimate text value
    return value == "" or (isinstance(value, (list, tuple)) and not value)
