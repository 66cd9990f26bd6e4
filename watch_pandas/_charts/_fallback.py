"""The kinds not drawn here (map, sankey, cohort, word cloud, details, ...): the table, with
one line saying so."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from ..models import Visualization


class NotDrawn:
    """``frame`` shown as a table under ``message`` (why it is not drawn)."""

    def __init__(
        self, visualization: Visualization, frame: pd.DataFrame, reason: str | None = None
    ) -> None:
        self.visualization = visualization
        self.frame = frame
        what = f"{visualization.type or 'untyped'} visualization {visualization.name!r}"
        self.message = f"{what} is not drawn here; showing its table." + (
            f" ({reason})" if reason else ""
        )

    def __repr__(self) -> str:
        return f"{self.message}\n{self.frame!r}"

    def _repr_html_(self) -> str:
        table = self.frame._repr_html_() or html.escape(repr(self.frame))
        return f"<p><em>{html.escape(self.message, quote=False)}</em></p>{table}"
