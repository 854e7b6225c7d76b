"""The api's errors: one tree, split by who is at fault, each with its status and kind.

`middleware.errors` renders every one of them as `{"kind", "msg", "details"}`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from podium.webserver import ORCH, error_body

RBAC = "puppetlabs.rbac"


class ApiError(Exception):
    """Raised for a request the api refuses; `details` carries the offending values."""

    status: int = 400
    kind: ClassVar[str] = f"{ORCH}/validation-error"

    def __init__(self, msg: str, *, status: int | None = None, **details: Any) -> None:
        super().__init__(msg)
        self.msg = msg
        self.details = details
        if status is not None:
            self.status = status

    def body(self) -> dict[str, Any]:
        return error_body(self.kind, self.msg, self.details)


class ValidationError(ApiError):
    """Raised for a malformed body, path id, query parameter or field value."""


class BodyTooLarge(ApiError):
    status = 413


class RequestTimeout(ApiError):
    """Raised when a request's body does not arrive within the request timeout."""

    status = 408


class QueryError(ApiError):
    kind = f"{ORCH}/query-error"


class PuppetDbError(ApiError):
    kind = f"{ORCH}/puppetdb-error"


class EmptyEnvironment(ApiError):
    kind = f"{ORCH}/empty-environment"


class EmptyTarget(ApiError):
    kind = f"{ORCH}/empty-target"


class DependencyCycle(ApiError):
    kind = f"{ORCH}/dependency-cycle"


class InventoryInvalid(ApiError):
    """Raised when a reload finds an inventory or node-groups file it cannot use; the sources
    in force stay as they were."""

    kind = f"{ORCH}/inventory-error"


class Unauthenticated(ApiError):
    """Raised for a request without a token, or with one the log does not know."""

    status = 401
    kind = f"{RBAC}/user-unauthenticated"


class TokenRevoked(Unauthenticated):
    kind = f"{RBAC}/token-revoked"


class TokenExpired(Unauthenticated):
    kind = f"{RBAC}/token-expired"


class UserRevoked(Unauthenticated):
    """Raised for a token whose user is disabled (PE calls such a user revoked)."""

    kind = f"{RBAC}/user-revoked"


class Conflict(ApiError):
    """Raised when a login or role name is taken already."""

    status = 409
    kind = f"{RBAC}/conflict"


class UnknownIdentity(ApiError):
    """Raised for a user, role or token id the log does not know (admin endpoints)."""

    status = 404
    kind = f"{RBAC}/not-found"


class UnknownTaskTarget(ApiError):
    status = 404
    kind = f"{ORCH}/unknown-task-target"


class NotPermitted(ApiError):
    status = 403
    kind = f"{ORCH}/not-permitted"


class UnknownJob(ApiError):
    status = 404
    kind = f"{ORCH}/unknown-job"


class UnknownEnvironment(ApiError):
    status = 404
    kind = f"{ORCH}/unknown-environment"


class UnknownTask(ApiError):
    status = 404
    kind = f"{ORCH}/unknown-task"


class NotFound(ApiError):
    """Raised for a path no route serves."""

    status = 404
    kind = f"{ORCH}/not-found"


class MethodNotAllowed(ApiError):
    status = 405
    kind = f"{ORCH}/method-not-allowed"


class Unavailable(ApiError):
    """Raised when the log or the broker does not take the command; nothing was accepted."""

    status = 503
    kind = f"{ORCH}/broker-unavailable"


class InternalError(ApiError):
    """Rendered for a fault of the server's own; the traceback goes to the log, not the client."""

    status = 500
    kind = f"{ORCH}/internal-error"
