"""The one exception hierarchy of Cercle; `server.web.problems` turns it into HTTP answers."""

from __future__ import annotations


class CercleError(Exception):
    """A refusal the user or peer can act on. `code` is stable; `message` is for people."""

    status = 400
    code = "bad-request"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code


class ValidationFailed(CercleError):
    status = 422
    code = "validation-failed"


class Unauthorized(CercleError):
    status = 401
    code = "unauthorized"


class Forbidden(CercleError):
    status = 403
    code = "forbidden"


class NotFound(CercleError):
    status = 404
    code = "not-found"


class Conflict(CercleError):
    status = 409
    code = "conflict"


class TooManyRequests(CercleError):
    status = 429
    code = "too-many-requests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
