"""What callers give: a ``params`` mapping, or ``NAME=VALUE`` pairs from a command line."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..errors import ParameterError
from ._common import _short_repr


def as_params(given: object) -> dict[str, object]:
    """``params`` as a new dict (``None``: none given); anything but a mapping is refused."""
    if given is None:
        return {}
    if not isinstance(given, Mapping):
        raise ParameterError(
            "params must be a dict of parameter name → value (e.g. {'min_price': 5}), not "
            f"{type(given).__name__} {_short_repr(given)}.",
            value=given,
            allowed="a dict of parameter name → value",
        )
    return dict(given)


def collect_pairs(pairs: Iterable[tuple[str, object]]) -> dict[str, object]:
    """``NAME=VALUE`` pairs (command line, magics) → a ``params`` dict.

    A repeated NAME makes a list (multi-value parameters); ``NAME.start`` / ``NAME.end`` make a
    ``{"start", "end"}`` range.
    """
    params: dict[str, object] = {}
    for name, value in pairs:
        base, dot, part = name.rpartition(".")
        if dot and part in ("start", "end"):
            bounds = params.setdefault(base, {})
            if not isinstance(bounds, dict):
                raise ParameterError(
                    f"Parameter {base!r} is given both as a value and as a range.",
                    name=base,
                    value=value,
                    allowed=f"either {base}=VALUE or {base}.start=… {base}.end=…",
                )
            bounds[part] = value
        elif name in params:
            previous = params[name]
            params[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            params[name] = value
    return params
