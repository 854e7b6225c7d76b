"""The fold of users, roles, permissions, tokens and task-targets, event by event."""

from __future__ import annotations

from podium.events.fold import fold_all
from podium.events.model import (
    Event,
    Permission,
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
from podium.events.state import State
from tests.builders import stamp

RUN_ANY = Permission("tasks", "run", "*")


def run_through(*events: Event) -> State:
    return fold_all(stamp(events))


def test_the_first_user_to_take_a_login_keeps_it() -> None:
    state = run_through(
        UserCreated(at=1.0, user_id="u1", login="ann"),
        UserCreated(at=2.0, user_id="u2", login="ann"),  # another replica, a moment later
    )
    assert list(state.users) == ["u1"]
    assert state.logins == {"ann": "u1"}
    assert state.users["u1"].display_name == "ann"


def test_roles_are_numbered_by_counting_and_a_name_is_made_once() -> None:
    state = run_through(
        RoleCreated(at=1.0, name="ops"),
        RoleCreated(at=1.0, name="ops", description="again"),
        RoleCreated(at=1.0, name="viewers"),
    )
    assert [(r.id, r.name, r.description) for r in state.roles.values()] == [
        (1, "ops", ""),
        (2, "viewers", ""),
    ]


def test_permissions_are_granted_once_and_revoked() -> None:
    other = Permission("tasks", "run", "package")
    state = run_through(
        RoleCreated(at=1.0, name="ops"),
        PermissionGranted(at=1.0, role="ops", permission=RUN_ANY),
        PermissionGranted(at=1.0, role="ops", permission=RUN_ANY),
        PermissionGranted(at=1.0, role="ops", permission=other),
        PermissionRevoked(at=2.0, role="ops", permission=RUN_ANY),
        PermissionGranted(at=2.0, role="nobody", permission=RUN_ANY),  # no such role
    )
    assert state.roles["ops"].permissions == [other]
    assert list(state.roles) == ["ops"]


def test_a_user_joins_a_role_once_and_only_a_known_one() -> None:
    state = run_through(
        UserCreated(at=1.0, user_id="u1", login="ann"),
        RoleCreated(at=1.0, name="ops"),
        UserAddedToRole(at=1.0, user_id="u1", role="ops"),
        UserAddedToRole(at=1.0, user_id="u1", role="ops"),
        UserAddedToRole(at=1.0, user_id="u1", role="nope"),
        UserAddedToRole(at=1.0, user_id="u9", role="ops"),
    )
    assert state.users["u1"].roles == ["ops"]


def test_tokens_keep_their_expiry_and_a_revocation_keeps_its_first_time() -> None:
    state = run_through(
        UserCreated(at=1.0, user_id="u1", login="ann"),
        TokenIssued(
            at=1.0, token_sha256="h", user_id="u1", login="ann", token_id="t1", expires_at=9.0
        ),
        TokenIssued(at=5.0, token_sha256="h", user_id="u2", login="bob"),  # same hash: ignored
        TokenRevoked(at=3.0, token_sha256="h"),
        TokenRevoked(at=4.0, token_sha256="h"),
        TokenRevoked(at=4.0, token_sha256="unknown"),
    )
    token = state.tokens["h"]
    assert (token.user_id, token.token_id, token.expires_at, token.revoked_at) == (
        "u1",
        "t1",
        9.0,
        3.0,
    )
    assert list(state.tokens) == ["h"]


def test_a_disabled_user_stays_disabled() -> None:
    state = run_through(
        UserCreated(at=1.0, user_id="u1", login="ann"),
        UserDisabled(at=2.0, user_id="u1"),
        UserDisabled(at=2.0, user_id="u9"),
    )
    assert state.users["u1"].disabled


def test_task_targets_are_named_by_counting_requests() -> None:
    def created(request_id: str, all_tasks: bool) -> TaskTargetCreated:
        return TaskTargetCreated(
            at=1.0,
            request_id=request_id,
            display_name="web",
            tasks=["package"],
            all_tasks=all_tasks,
            nodes=["n1"],
            node_groups=[],
            by="u1",
        )

    state = run_through(created("r1", False), created("r1", False), created("r2", True))
    assert list(state.task_targets) == ["1", "2"]
    assert state.task_targets["1"].tasks == ["package"]
    assert state.task_targets["2"].tasks == []  # all_tasks: the list is not kept
    assert state.task_target_requests == {"r1": "1", "r2": "2"}
    assert state.task_targets["1"].owner == "u1"
