"""The domain of the local Watch server, without HTTP: one module per part of it.

``users`` (users, API and query keys, date formats), ``data_sources``, ``queries``,
``results`` (stored results, latest result of saved queries), ``execution`` (parameter and
cache rules, jobs), ``dashboards``; ``backend.Backend`` puts them together. Operations turn a
request down by raising ``errors.Refusal``, which the HTTP layer answers with its status.
"""

from __future__ import annotations

from .backend import SERIALIZE_MODES, SERIALIZE_PER_REQUEST, SERIALIZE_STORED, Backend
from .errors import FORBIDDEN, NOT_FOUND, PLEASE_LOGIN, Refusal
from .users import Caller, require_editor, require_user

__all__ = [
    "Backend",
    "Caller",
    "FORBIDDEN",
    "NOT_FOUND",
    "PLEASE_LOGIN",
    "Refusal",
    "SERIALIZE_MODES",
    "SERIALIZE_PER_REQUEST",
    "SERIALIZE_STORED",
    "require_editor",
    "require_user",
]
