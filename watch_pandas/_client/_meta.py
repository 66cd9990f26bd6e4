"""Meta: the data sources, the server's client config and its version."""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from .._http import expect_dict, wire_model
from ..errors import AuthError, ConfigError, NotFoundError, ServerError
from ..models import DataSource
from ._base import BaseClient


class MetaAPI(BaseClient):
    """``/api/data_sources``, ``/api/session`` and ``/api/config``."""

    # id → name of the data sources last listed; replaced whole (never changed in place), so
    # threads sharing the client always read one complete listing
    _data_source_names: Mapping[int, str] | None = None

    def list_data_sources(self) -> list[DataSource]:
        """The data sources this user may see (sorted by name by the server)."""
        self._require_user_key("list data sources")
        data = self._json("GET", "data_sources", what="data sources", user_only=True)
        if not isinstance(data, list):
            raise ServerError("GET /api/data_sources did not answer a list.")
        sources = [wire_model(DataSource.from_json, item, "a data source") for item in data]
        self._data_source_names = MappingProxyType({s.id: s.name for s in sources})
        return sources

    def listed_data_sources(self) -> dict[int, str] | None:
        """The data sources (id → name) this client last listed, or ``None`` (no request)."""
        names = self._data_source_names
        return None if names is None else dict(names)

    def resolve_data_source(self, id_or_name: int | str) -> DataSource:
        """A data source by id (int or digit string) or exact name."""
        if isinstance(id_or_name, bool) or not isinstance(id_or_name, (numbers.Integral, str)):
            raise ConfigError(
                f"A data source is given by id or name, not {type(id_or_name).__name__}."
            )
        sources = self.list_data_sources()
        if not isinstance(id_or_name, str) or id_or_name.strip().isdigit():
            wanted_id = int(id_or_name)
            match = [s for s in sources if s.id == wanted_id]
        else:
            match = [s for s in sources if s.name == id_or_name]
        if match:
            return match[0]
        available = ", ".join(f"{s.name} (id {s.id})" for s in sources) or "none visible"
        raise NotFoundError(f"No data source {id_or_name!r} on {self.url}. Available: {available}.")

    def get_client_config(self) -> dict[str, Any]:
        """The server's ``client_config`` (date formats, page size, version for users).

        From ``/api/session`` for a user key, else from ``/api/config`` (no login needed).
        """
        if self.key_kind != "query":
            try:
                data = self._json(
                    "GET", "session", what="session", user_only=True, detect_user=False
                )
            except AuthError:
                if self.key_kind == "user":
                    raise
            else:
                config = expect_dict(data, "a session").get("client_config")
                if isinstance(config, dict):
                    return config
        data = self._json("GET", "config", what="server config")
        config = expect_dict(data, "a config").get("client_config")
        if not isinstance(config, dict):
            raise ServerError("GET /api/config did not include client_config.")
        return config

    def get_server_version(self) -> str | None:
        """The server's version string (only shown to user keys), or ``None``."""
        version = self.get_client_config().get("version")
        return str(version) if version else None
