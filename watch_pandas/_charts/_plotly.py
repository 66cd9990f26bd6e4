"""plotly, imported on first use: the ``plot`` extra."""

from __future__ import annotations

from types import ModuleType

from ..errors import ConfigError

PALETTE = (  # the web UI's automatic colours, in order (docs/charts.md#colours)
    "#356AFF",
    "#E92828",
    "#3BD973",
    "#604FE9",
    "#50F5ED",
    "#FB8D3D",
    "#799CFF",
    "#B554FF",
    "#8CFFB4",
    "#A55F2A",
    "#000000",
    "#494949",
    "#FF7DE3",
    "#002FB4",
)


def graph_objects() -> ModuleType:
    """``plotly.graph_objects``, or a ConfigError naming the extra."""
    try:
        import plotly.graph_objects as go
    except ImportError:
        raise ConfigError(
            'Drawing charts needs plotly, which is not installed: pip install "watch-pandas[plot]"'
        ) from None
    return go
