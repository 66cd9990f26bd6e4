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
