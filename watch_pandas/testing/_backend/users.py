"""Users, their API keys and query keys, and the org's date formats."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from .._store import iso_z, utcnow
from .errors import CANNOT_EDIT, PLEASE_LOGIN, Refusal
from .state import State


@dataclass
class Caller:
    """Who is calling: a user, or a query key acting on one query (``api_query_id``)."""

    user: dict[str, Any] | None
    api_query_id: int | None = None

    @property
    def is_api(self) -> bool:
        return self.api_query_id is not None

    @property
    def is_admin(self) -> bool:
        return bool(self.user and self.user.get("is_admin"))


def slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "dashboard"


def require_user(caller: Caller) -> dict[str, Any]:
    """The calling user; a query key is not one (404 "Please login")."""
    if caller.user is None:
        raise Refusal(404, PLEASE_LOGIN)
    return caller.user


def require_editor(caller: Caller, owner_id: int) -> dict[str, Any]:
    """The calling user if they may edit what ``owner_id`` owns (admins, the owner)."""
    user = require_user(caller)
    if not (user.get("is_admin") or user["id"] == owner_id) or user.get("view_only"):
        raise Refusal(403, CANNOT_EDIT)
    return user


class Users(State):
    """Users and their keys; the org settings (date formats)."""

    @property
    def admin(self) -> dict[str, Any]:
        user = self.store.get("users", 1)
        assert user is not None
        return user

    def users_by_id(self) -> dict[int, dict[str, Any]]:
        return {u["id"]: u for u in self.store.all("users")}

    def date_formats(self) -> tuple[str, str]:
        return (
            self.store.setting("date_format") or "DD/MM/YY",
            self.store.setting("time_format") or "HH:mm",
        )

    def set_date_format(self, date_format: str, time_format: str) -> None:
        self.store.set_setting("date_format", date_format)
        self.store.set_setting("time_format", time_format)

    def create_user(
        self,
        name: str,
        *,
        email: str | None = None,
        is_admin: bool = False,
        view_only: bool = False,
        api_key: str | None = None,
    ) -> dict[str, Any]:
        now = iso_z(utcnow())
        user_id = self.store.next_id("users")
        user = {
            "id": user_id,
            "name": name,
            "email": email or f"{slugify(name)}-{user_id}@example.com",
            "api_key": api_key or secrets.token_urlsafe(30),
            "is_admin": is_admin,
            "view_only": view_only,
            "created_at": now,
            "updated_at": now,
        }
        return self.store.put("users", user)

    def caller_with_key(self, key: str | None, query_id: Any = None) -> Caller:
        """The user with API key ``key``, else (when ``query_id`` is given: a route a query key
        may use) the query key of that query; else 404 "Please login"."""
        if key:
            for user in self.store.all("users"):
                if secrets.compare_digest(str(user["api_key"]), key):
                    return Caller(user)
            if query_id is not None:
                try:
                    query = self.store.get("queries", int(query_id))
                except ValueError:
                    query = None
                if query is not None and secrets.compare_digest(str(query["api_key"]), key):
                    return Caller(None, api_query_id=query["id"])
        raise Refusal(404, PLEASE_LOGIN)
