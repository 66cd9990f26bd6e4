"""``Refusal``: a request the server turns down, and the messages it turns them down with."""

from __future__ import annotations

from typing import Any

from ... import _constants as C

PLEASE_LOGIN = "Couldn't find resource. Please login and try again."
NOT_FOUND = (
    "The requested URL was not found on the server. If you entered the URL manually please "
    "check your spelling and try again."
)
CANNOT_EDIT = "You don't have permission to edit this resource."
# Werkzeug's stock text for a bare 403 (admin-only routes, view-only users forking)
FORBIDDEN = (
    "You don't have the permission to access the requested resource. It is either "
    "read-protected or not readable by the server."
)
# Werkzeug's stock text for a bare 409, which Redash answers to a stale ``version``
CONFLICT = (
    "A conflict happened while processing the request. The resource might have been "
    "modified while the request was being processed."
)


class Refusal(Exception):
    """Answer ``status`` with ``{"message": message}`` or, for an execution (``job=True``),
    ``{"job": {"status": 4, "error": message}}`` as the real server does."""

    def __init__(self, status: int, message: str, *, job: bool = False) -> None:
        super().__init__(status, message)
        self.status = status
        self.message = message
        self.job = job

    def body(self) -> dict[str, Any]:
        if self.job:
            return {"job": {"status": C.JOB_FAILED, "error": self.message}}
        return {"message": self.message}
