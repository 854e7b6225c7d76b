"""Permissions at the edge: a command's user checked against the folded state before anything
is resolved or recorded, and the nodes of a task job narrowed to those the user may run it on.

Nothing here needs an HTTP request: a job started later on a user's behalf (a schedule firing
as its owner) calls the same functions with the state, the user id and a ScopeContext.
"""

from __future__ import annotations

from collections.abc import Sequence

from podium.api.bodies import Scope
from podium.api.errors import EmptyTarget, NotPermitted, QueryError
from podium.api.scopes import ScopeContext, task_target_nodes
from podium.events.model import Permission
from podium.events.state import State
from podium.rbac.decide import NodePermit, TaskGrant, holds, permit_nodes, task_grant
from podium.rbac.permissions import NODE_GROUPS_VIEW, NODES_VIEW_DATA, PUPPET_AGENT_RUN


def require(state: State, user_id: str, permission: Permission, doing: str) -> None:
    """Raises NotPermitted naming the permission `doing` needs."""
    if not holds(state, user_id, permission):
        raise NotPermitted(
            f"You are not permitted to {doing}: it needs the permission {permission}",
            permission=str(permission),
        )


def check_scope_use(state: State, user_id: str, scope: Scope | None) -> None:
    """Before a scope is resolved: a `query` needs `nodes:view_data:*` (else 400 query-error,
    as the spec says), a `node_group` needs `node_groups:view:<id>` (else 403)."""
    if scope is None:
        return
    if scope.query is not None and not holds(state, user_id, NODES_VIEW_DATA):
        raise QueryError(
            f"You are not permitted to run queries: it needs the permission {NODES_VIEW_DATA}",
            permission=str(NODES_VIEW_DATA),
        )
    if scope.node_group is not None:
        wanted = Permission(*NODE_GROUPS_VIEW, scope.node_group)
        require(state, user_id, wanted, f"use node group {scope.node_group}")


def check_deploy(state: State, user_id: str) -> NodePermit:
    """A deploy runs Puppet on every node of its scope: `puppet_agent:run:*` or nothing."""
    require(state, user_id, PUPPET_AGENT_RUN, "run Puppet")
    return NodePermit([], [], [str(PUPPET_AGENT_RUN)])


async def permit_task(
    state: State,
    user_id: str,
    task: str,
    nodes: Sequence[str],
    scope: Scope,
    context: ScopeContext,
    grant: TaskGrant | None = None,
) -> NodePermit:
    """The nodes of the resolved scope the user may run `task` on. Nodes named one by one must
    all be permitted (403 naming the others); a node group or a query leaves the others out
    silently, and 400 empty-target when none is left. `grant`: the user's, if worked out."""
    grant = task_grant(state, user_id, task) if grant is None else grant
    if not grant.anything:
        raise NotPermitted(f"You are not permitted to run task {task}", task=task)
    covered = {}
    if grant.everywhere is None:
        for name in grant.task_targets:
            covered[name] = await task_target_nodes(state.task_targets[name], context)
    permit = permit_nodes(grant, nodes, covered)
    if permit.refused and scope.nodes is not None:
        shown = ", ".join(permit.refused[:10]) + (" ..." if len(permit.refused) > 10 else "")
        raise NotPermitted(
            f"You are not permitted to run task {task} on {len(permit.refused)} of the nodes: "
            f"{shown}",
            task=task,
            nodes=permit.refused,
        )
    if not permit.permitted:
        raise EmptyTarget(
            f"The scope has no node you are permitted to run task {task} on", task=task
        )
    return permit
