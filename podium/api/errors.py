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

    def __init_subclass__(cls, *, status: int | None = None, kind: str | None = None) -> None:
        """`class UnknownJob(ApiError, status=404, kind=...)`: each error's status and kind on
        the line that declares it."""
        super().__init_subclass__()
        if status is not None:
            cls.status = status
        if kind is not None:
            cls.kind = kind

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


class BodyTooLarge(ApiError, status=413):
    """Raised for a body over the size the api reads."""


class RequestTimeout(ApiError, status=408):
    """Raised when a request's body does not arrive within the request timeout."""


class QueryError(ApiError, kind=f"{ORCH}/query-error"):
    """Raised for a query scope that does not parse, or that PuppetDB refuses."""


class PuppetDbError(ApiError, kind=f"{ORCH}/puppetdb-error"):
    """Raised when PuppetDB cannot answer a query."""


class EmptyEnvironment(ApiError, kind=f"{ORCH}/empty-environment"):
    """Raised for a deploy of an environment with nothing to deploy."""


class EmptyTarget(ApiError, kind=f"{ORCH}/empty-target"):
    """Raised for a scope that resolves to no nodes."""


class DependencyCycle(ApiError, kind=f"{ORCH}/dependency-cycle"):
    """Raised for application components that require each other in a cycle."""


class InvalidTime(ApiError, kind=f"{ORCH}/invalid-time"):
    """Raised for a scheduled start time earlier than the server's clock."""


class DisabledScheduledJob(ApiError, kind=f"{ORCH}/disabled-scheduled-job"):
    """Raised for a PUT on a scheduled environment job that is disabled (deleted)."""


class InventoryInvalid(ApiError, kind=f"{ORCH}/inventory-error"):
    """Raised when a reload finds an inventory or node-groups file it cannot use; the sources
    in force stay as they were."""


class Unauthenticated(ApiError, status=401, kind=f"{RBAC}/user-unauthenticated"):
    """Raised for a request without a token, or with one the log does not know."""


class TokenRevoked(Unauthenticated, kind=f"{RBAC}/token-revoked"):
    """Raised for a token that was revoked."""


class TokenExpired(Unauthenticated, kind=f"{RBAC}/token-expired"):
    """Raised for a token past its lifetime."""


class UserRevoked(Unauthenticated, kind=f"{RBAC}/user-revoked"):
    """Raised for a token whose user is disabled (PE calls such a user revoked)."""


class Conflict(ApiError, status=409, kind=f"{RBAC}/conflict"):
    """Raised for a change that conflicts with what exists: a login or role name taken, the
    built-in admin user or role changed, a token asked for a disabled user."""


class UnknownIdentity(ApiError, status=404, kind=f"{RBAC}/not-found"):
    """Raised for a user, role or token id the log does not know (admin endpoints)."""


class UnknownTaskTarget(ApiError, status=404, kind=f"{ORCH}/unknown-task-target"):
    """Raised for a task-target id the log does not know."""


class NotPermitted(ApiError, status=403, kind=f"{ORCH}/not-permitted"):
    """Raised for a user without the permission the request needs."""


class UnknownJob(ApiError, status=404, kind=f"{ORCH}/unknown-job"):
    """Raised for a job name the log does not know."""


class UnknownEnvironment(ApiError, status=404, kind=f"{ORCH}/unknown-environment"):
    """Raised for an environment the environments directory does not hold."""


class UnknownTask(ApiError, status=404, kind=f"{ORCH}/unknown-task"):
    """Raised for a task the environment does not have."""


class UnknownPlan(ApiError, status=404, kind=f"{ORCH}/unknown-plan"):
    """Raised for a plan the environment does not have."""


class PlanAlreadyFinished(ApiError, kind=f"{ORCH}/plan-already-finished"):
    """Raised for a task sent with the `plan_job` of a plan job that has ended (Bolt retries)."""


class HistoryGone(ApiError, status=410, kind=f"{ORCH}/history-gone"):
    """Raised when an answer about the past needs events the log's retention has dropped."""


class NotFound(ApiError, status=404, kind=f"{ORCH}/not-found"):
    """Raised for a path no route serves."""


class MethodNotAllowed(ApiError, status=405, kind=f"{ORCH}/method-not-allowed"):
    """Raised for a method the route does not serve."""


class Unavailable(ApiError, status=503, kind=f"{ORCH}/broker-unavailable"):
    """Raised when the log or the broker does not take the command; nothing was accepted."""


class InternalError(ApiError, status=500, kind=f"{ORCH}/internal-error"):
    """Rendered for a fault of the server's own; the traceback goes to the log, not the client."""
