"""Decisions over the folded state: who a token's hash is, what a user's roles permit, which
nodes a user may run a task on, which jobs a user may see or stop. Pure: the time is passed in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from enum import StrEnum

from podium.events.model import Permission
from podium.events.state import State, User
from podium.rbac.builtin import ADMIN_ROLE
from podium.rbac.permissions import (
    ALL,
    ORCHESTRATOR_STOP_OTHERS,
    ORCHESTRATOR_VIEW,
    PLANS_RUN,
    TASKS_RUN,
    TASKS_RUN_WITH_CONSTRAINTS,
)
from podium.tasks.names import InvalidTaskName, parse_task_name


class Refusal(StrEnum):
    """Why a token does not authenticate anyone."""

    UNKNOWN = "unknown"
    EXPIRED = "expired"
    REVOKED = "revoked"
    DISABLED = "disabled"  # the token's user is disabled


def authenticate(state: State, token_sha256: str, now: float) -> User | Refusal:
    token = state.tokens.get(token_sha256)
    if token is None:
        return Refusal.UNKNOWN
    if token.revoked_at is not None:
        return Refusal.REVOKED
    if token.expires_at is not None and now >= token.expires_at:
        return Refusal.EXPIRED
    user = state.users.get(token.user_id)
    if user is None:
        return Refusal.UNKNOWN
    if user.disabled:
        return Refusal.DISABLED
    return user


def permissions_of(state: State, user_id: str) -> list[Permission]:
    """The permissions of every role of the user, each once, in the order the roles give them."""
    user = state.users.get(user_id)
    if user is None or user.disabled:
        return []
    held: dict[Permission, None] = {}
    for name in user.roles:
        role = state.roles.get(name)
        if role is not None:
            held.update(dict.fromkeys(role.permissions))
    return list(held)


def holds(state: State, user_id: str, wanted: Permission) -> bool:
    """Whether a role of the user grants `wanted`: the same triple, or its type and action
    on every instance (`*`)."""
    return any(
        p.object_type == wanted.object_type
        and p.action == wanted.action
        and p.instance in (ALL, wanted.instance)
        for p in permissions_of(state, user_id)
    )


def is_superuser(state: State, user_id: str) -> bool:
    user = state.users.get(user_id)
    return user is not None and ADMIN_ROLE in user.roles


def same_task(a: str, b: str) -> bool:
    """Task names compare in their canonical form (`package` is `package::init`)."""
    return _canonical(a) == _canonical(b)


def _canonical(name: str) -> str:
    try:
        return parse_task_name(name).full
    except InvalidTaskName:
        return name


@dataclass(frozen=True, slots=True)
class TaskGrant:
    """What lets a user run one task: `everywhere` (a `tasks:run` permission naming it or `*`),
    or the task-targets, by name, that name it (or all tasks) and limit it to their nodes."""

    everywhere: str | None = None  # the permission that grants it on every node
    task_targets: tuple[str, ...] = ()

    @property
    def anything(self) -> bool:
        return self.everywhere is not None or bool(self.task_targets)


def task_grant(state: State, user_id: str, task: str) -> TaskGrant:
    targets: dict[str, None] = {}
    for p in permissions_of(state, user_id):
        if (p.object_type, p.action) == TASKS_RUN and (
            p.instance == ALL or same_task(p.instance, task)
        ):
            return TaskGrant(everywhere=str(p))
        if (p.object_type, p.action) == TASKS_RUN_WITH_CONSTRAINTS:
            names = state.task_targets if p.instance == ALL else (p.instance,)
            for name in names:
                target = state.task_targets.get(name)
                if target is not None and (
                    target.all_tasks or any(same_task(t, task) for t in target.tasks)
                ):
                    targets[name] = None
    return TaskGrant(task_targets=tuple(targets))


@dataclass(frozen=True, slots=True)
class NodePermit:
    """The nodes a user may run the task on, those it may not, and the grants used."""

    permitted: list[str]
    refused: list[str]
    granted_by: list[str] = field(default_factory=list)


def permit_nodes(
    grant: TaskGrant, nodes: Sequence[str], target_nodes: Mapping[str, Set[str]]
) -> NodePermit:
    """Split `nodes` by the grant; `target_nodes` holds the nodes of each task-target of the
    grant (its nodes, the members of its node groups, the results of its query)."""
    if grant.everywhere is not None:
        return NodePermit(list(nodes), [], [grant.everywhere])
    permitted, refused, used = [], [], dict[str, None]()
    for node in nodes:
        by = next((name for name in grant.task_targets if node in target_nodes.get(name, ())), None)
        if by is None:
            refused.append(node)
        else:
            permitted.append(node)
            used[f"tasks:run_with_constraints:{by}"] = None
    return NodePermit(permitted, refused, list(used))


def may_see_job(state: State, user_id: str, owner: str) -> bool:
    """A user sees their own jobs, and every job with `orchestrator:view:*`."""
    return owner == user_id or holds(state, user_id, ORCHESTRATOR_VIEW)


def may_stop_job(state: State, user_id: str, owner: str) -> bool:
    """A user can always stop their own jobs; others' with `orchestrator:stop_others:*`."""
    return owner == user_id or holds(state, user_id, ORCHESTRATOR_STOP_OTHERS)


def may_run_plan(state: State, user_id: str, plan: str) -> bool:
    """`plans:run:<plan>` or `plans:run:*`: the check `plan_run` makes before starting a plan."""
    return holds(state, user_id, Permission(*PLANS_RUN, plan))
