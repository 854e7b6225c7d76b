"""The fold of the identity events: users, roles and their permissions, tokens, task-targets.

Part of the fold (pure, idempotent, in place): a login, a role name or a request id taken once
stays with its first event, so two api replicas racing to make the same thing end with one.
Events about a user or role the log does not know change nothing.
"""

from __future__ import annotations

from typing import assert_never

from podium.events.model import (
    IdentityEvent,
    PermissionGranted,
    PermissionRevoked,
    RoleCreated,
    TaskTargetCreated,
    TokenIssued,
    TokenRevoked,
    UserAddedToRole,
    UserCreated,
    UserDisabled,
)
from podium.events.state import Role, State, TaskTarget, TokenRecord, User


def fold_identity(state: State, event: IdentityEvent) -> None:
    match event:
        case TokenIssued():
            _token_issued(state, event)
        case TokenRevoked():
            _token_revoked(state, event)
        case UserCreated():
            _user_created(state, event)
        case UserDisabled():
            _user_disabled(state, event)
        case RoleCreated():
            _role_created(state, event)
        case PermissionGranted() | PermissionRevoked():
            _permission_changed(state, event)
        case UserAddedToRole():
            _user_added_to_role(state, event)
        case TaskTargetCreated():
            _task_target_created(state, event)
        case _:
            assert_never(event)


def _user_disabled(state: State, event: UserDisabled) -> None:
    user = state.users.get(event.user_id)
    if user is not None:
        user.disabled = True


def _role_created(state: State, event: RoleCreated) -> None:
    if event.name not in state.roles:
        state.roles[event.name] = Role(len(state.roles) + 1, event.name, event.description)


def _user_added_to_role(state: State, event: UserAddedToRole) -> None:
    user = state.users.get(event.user_id)
    if user is not None and event.role in state.roles and event.role not in user.roles:
        user.roles = [*user.roles, event.role]


def _token_issued(state: State, event: TokenIssued) -> None:
    if event.token_sha256 in state.tokens:
        return
    if event.first_start and state.tokens:
        return  # another api's first-start token reached the log first
    if event.user_id not in state.users:  # tokens of logs older than users: the admin's
        _add_user(state, User(event.user_id, event.login, event.login, created_at=event.at))
    state.tokens[event.token_sha256] = TokenRecord(
        event.user_id, event.at, event.token_id, event.expires_at, event.label
    )


def _token_revoked(state: State, event: TokenRevoked) -> None:
    token = state.tokens.get(event.token_sha256)
    if token is not None and token.revoked_at is None:
        token.revoked_at = event.at


def _user_created(state: State, event: UserCreated) -> None:
    if event.login in state.logins or event.user_id in state.users:
        return
    display_name = event.display_name or event.login
    _add_user(
        state, User(event.user_id, event.login, display_name, event.email, created_at=event.at)
    )


def _add_user(state: State, user: User) -> None:
    state.users[user.id] = user
    state.logins.setdefault(user.login, user.id)


def _permission_changed(state: State, event: PermissionGranted | PermissionRevoked) -> None:
    role = state.roles.get(event.role)
    if role is None:
        return
    held = event.permission in role.permissions
    if isinstance(event, PermissionGranted) and not held:
        role.permissions = [*role.permissions, event.permission]
    elif isinstance(event, PermissionRevoked) and held:
        role.permissions = [p for p in role.permissions if p != event.permission]


def _task_target_created(state: State, event: TaskTargetCreated) -> None:
    if event.request_id in state.task_target_requests:
        return
    name = str(len(state.task_targets) + 1)
    state.task_targets[name] = TaskTarget(
        name=name,
        display_name=event.display_name,
        tasks=[] if event.all_tasks else event.tasks,
        all_tasks=event.all_tasks,
        nodes=event.nodes,
        node_groups=event.node_groups,
        pql_query=event.pql_query,
        created_at=event.at,
        owner=event.by,
    )
    state.task_target_requests[event.request_id] = name
