"""The permissions Podium knows, as Puppet RBAC writes them: `object_type:action:instance`."""

from __future__ import annotations

import re
from typing import Final

from podium.events.model import Permission

ALL: Final = "*"
# object type -> action -> whether the action takes instances (else its instance is always `*`)
CATALOG: Final[dict[str, dict[str, bool]]] = {
    "tasks": {"run": True, "run_with_constraints": True},
    "puppet_agent": {"run": False},
    "plans": {"run": True},
    "nodes": {"view_data": False},
    "node_groups": {"view": True},
    "orchestrator": {"view": False, "stop_others": False},
    "inventory": {"reload": False},
    "users": {"edit": False},
    "tokens": {"issue": False},
}
_INSTANCE: Final = re.compile(r"\A[A-Za-z0-9_:.\-*]+\Z")

# The permissions each action needs. A task on nodes needs TASKS_RUN for the task (or
# TASKS_RUN_WITH_CONSTRAINTS for a task-target that names it and the nodes).
TASKS_RUN: Final = ("tasks", "run")
TASKS_RUN_WITH_CONSTRAINTS: Final = ("tasks", "run_with_constraints")
PUPPET_AGENT_RUN: Final = Permission("puppet_agent", "run")
PLANS_RUN: Final = ("plans", "run")
NODES_VIEW_DATA: Final = Permission("nodes", "view_data")  # to use a `query` scope
NODE_GROUPS_VIEW: Final = ("node_groups", "view")  # to use a `node_group` scope
ORCHESTRATOR_VIEW: Final = Permission("orchestrator", "view")  # every job, not only one's own
ORCHESTRATOR_STOP_OTHERS: Final = Permission("orchestrator", "stop_others")
INVENTORY_RELOAD: Final = Permission("inventory", "reload")
USERS_EDIT: Final = Permission("users", "edit")  # users, roles, permissions, task-targets
TOKENS_ISSUE: Final = Permission("tokens", "issue")

ADMIN_PERMISSIONS: Final = tuple(
    Permission(object_type, action)
    for object_type, actions in CATALOG.items()
    for action in actions
)


def permission_pattern() -> str:
    """A regular expression (ECMA and Python alike) for the texts `parse_permission` takes."""
    instance = r"[A-Za-z0-9_:.*-]+"
    choices = [
        f"{object_type}:{action}:{instance if instances else re.escape(ALL)}"
        for object_type, actions in CATALOG.items()
        for action, instances in actions.items()
    ]
    return f"^({'|'.join(choices)})$"


class BadPermission(ValueError):
    """Raised for text that is not a permission of the catalog; the message says why."""


def parse_permission(text: str) -> Permission:
    """`tasks:run:package::status` -> Permission("tasks", "run", "package::status"): the object
    type and action never hold a `:`, the instance may (task names do)."""
    object_type, _, rest = text.partition(":")
    action, separated, instance = rest.partition(":")
    if not separated or not instance:
        raise BadPermission(
            f"{text!r} is not a permission: expected object_type:action:instance "
            "(e.g. tasks:run:package, or tasks:run:* for every task)"
        )
    actions = CATALOG.get(object_type)
    if actions is None:
        raise BadPermission(
            f"{text!r}: unknown object type {object_type!r} (known: {', '.join(CATALOG)})"
        )
    if action not in actions:
        raise BadPermission(
            f"{text!r}: {object_type} has no action {action!r} (known: {', '.join(actions)})"
        )
    if not actions[action] and instance != ALL:
        raise BadPermission(f"{text!r}: {object_type}:{action} applies only to every instance, *")
    if not _INSTANCE.match(instance):
        raise BadPermission(f"{text!r}: the instance {instance!r} is not a name, an id or *")
    return Permission(object_type, action, instance)
