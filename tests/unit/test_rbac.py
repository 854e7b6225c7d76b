"""Permission decisions as tables over one folded world: who a token is, what each user may
run where, which jobs each may see and stop, and what the built-in admin is made of."""

from __future__ import annotations

import pytest

from podium.events.fold import fold_all
from podium.events.model import (
    Event,
    Permission,
    PermissionGranted,
    RoleCreated,
    TaskTargetCreated,
    TokenIssued,
    TokenRevoked,
    UserAddedToRole,
    UserCreated,
    UserDisabled,
)
from podium.events.state import State, User
from podium.rbac.builtin import ADMIN_ID, ADMIN_ROLE, builtin_events
from podium.rbac.decide import (
    Refusal,
    TaskGrant,
    authenticate,
    holds,
    may_run_plan,
    may_see_job,
    may_stop_job,
    permit_nodes,
    task_grant,
)
from podium.rbac.permissions import ADMIN_PERMISSIONS, BadPermission, parse_permission
from tests.builders import stamp

P = parse_permission


def _role(name: str, *permissions: str) -> list[Event]:
    events: list[Event] = [RoleCreated(at=0.0, name=name)]
    return events + [PermissionGranted(at=0.0, role=name, permission=P(p)) for p in permissions]


def _user(user_id: str, *roles: str) -> list[Event]:
    events: list[Event] = [UserCreated(at=0.0, user_id=user_id, login=user_id)]
    return events + [UserAddedToRole(at=0.0, user_id=user_id, role=role) for role in roles]


def world() -> State:
    events: list[Event] = [
        TaskTargetCreated(
            at=0.0,
            request_id="r1",
            display_name="web restarts",
            tasks=["service", "package::status"],
            all_tasks=False,
            nodes=["web-1"],
            node_groups=[],
        ),
        TaskTargetCreated(
            at=0.0,
            request_id="r2",
            display_name="anything on db",
            tasks=[],
            all_tasks=True,
            nodes=["db-1"],
            node_groups=[],
        ),
        *_role("deployers", "puppet_agent:run:*", "tasks:run:package", "node_groups:view:g1"),
        *_role("web", "tasks:run_with_constraints:1"),
        *_role("viewers", "orchestrator:view:*", "nodes:view_data:*"),
        *_role("plans", "plans:run:ops::canary"),
        *_user("deployer", "deployers"),
        *_user("runner", "web"),
        *_user("viewer", "viewers", "plans"),
        *_user("gone", "deployers"),
        UserDisabled(at=0.0, user_id="gone"),
    ]
    state = fold_all(stamp(events))
    return fold_all(stamp(builtin_events(state, 0.0), origin="boot"), state)


def _token(sha: str, user: str, expires_at: float | None = None) -> TokenIssued:
    return TokenIssued(at=0.0, token_sha256=sha, user_id=user, login=user, expires_at=expires_at)


@pytest.mark.parametrize(
    ("sha", "now", "expected"),
    [
        ("t-admin", 100.0, ADMIN_ID),
        ("t-runner", 99.9, "runner"),
        ("t-runner", 100.0, Refusal.EXPIRED),  # at its expiry it has expired
        ("t-revoked", 1.0, Refusal.REVOKED),
        ("t-gone", 1.0, Refusal.DISABLED),
        ("nothing", 1.0, Refusal.UNKNOWN),
    ],
)
def test_a_tokens_hash_names_its_user_or_says_why_not(
    sha: str, now: float, expected: str | Refusal
) -> None:
    events: list[Event] = [
        _token("t-admin", ADMIN_ID),
        _token("t-runner", "runner", expires_at=100.0),
        _token("t-revoked", "deployer"),
        TokenRevoked(at=0.0, token_sha256="t-revoked"),
        _token("t-gone", "gone"),
    ]
    state = fold_all(stamp(events, origin="tokens"), world())
    found = authenticate(state, sha, now)
    assert (found.id if isinstance(found, User) else found) == expected


@pytest.mark.parametrize(
    ("user", "task", "everywhere", "targets"),
    [
        (ADMIN_ID, "anything::at_all", "tasks:run:*", ()),
        ("deployer", "package", "tasks:run:package", ()),
        ("deployer", "package::init", "tasks:run:package", ()),  # the same task
        ("deployer", "service", None, ()),
        ("runner", "service", None, ("1",)),
        ("runner", "package::status", None, ("1",)),
        ("runner", "package", None, ()),
        ("viewer", "service", None, ()),
        ("gone", "package", None, ()),  # disabled: its roles grant nothing
    ],
)
def test_what_lets_each_user_run_a_task(
    user: str, task: str, everywhere: str | None, targets: tuple[str, ...]
) -> None:
    assert task_grant(world(), user, task) == TaskGrant(everywhere, targets)


def test_run_with_constraints_on_every_task_target_takes_those_that_name_the_task() -> None:
    state = fold_all(
        stamp([*_role("all-tt", "tasks:run_with_constraints:*"), *_user("tt", "all-tt")], "x"),
        world(),
    )
    assert task_grant(state, "tt", "service").task_targets == ("1", "2")
    assert task_grant(state, "tt", "other").task_targets == ("2",)


def test_a_task_target_permits_only_its_nodes() -> None:
    grant = TaskGrant(task_targets=("1", "2"))
    permit = permit_nodes(grant, ["web-1", "web-2", "db-1"], {"1": {"web-1"}, "2": {"db-1"}})
    assert (permit.permitted, permit.refused) == (["web-1", "db-1"], ["web-2"])
    assert permit.granted_by == ["tasks:run_with_constraints:1", "tasks:run_with_constraints:2"]


def test_a_grant_everywhere_permits_every_node() -> None:
    permit = permit_nodes(TaskGrant(everywhere="tasks:run:*"), ["a", "b"], {})
    assert (permit.permitted, permit.refused, permit.granted_by) == (
        ["a", "b"],
        [],
        ["tasks:run:*"],
    )


@pytest.mark.parametrize(
    ("user", "permission", "expected"),
    [
        ("deployer", "puppet_agent:run:*", True),
        ("runner", "puppet_agent:run:*", False),
        ("deployer", "node_groups:view:g1", True),
        ("deployer", "node_groups:view:g2", False),
        ("viewer", "nodes:view_data:*", True),
        ("deployer", "nodes:view_data:*", False),
        (ADMIN_ID, "node_groups:view:g2", True),
        (ADMIN_ID, "users:edit:*", True),
        ("viewer", "users:edit:*", False),
        ("gone", "puppet_agent:run:*", False),
    ],
)
def test_who_holds_what(user: str, permission: str, expected: bool) -> None:
    assert holds(world(), user, P(permission)) is expected


@pytest.mark.parametrize(
    ("user", "owner", "see", "stop"),
    [
        ("runner", "runner", True, True),
        ("runner", "deployer", False, False),
        ("viewer", "deployer", True, False),
        (ADMIN_ID, "deployer", True, True),
    ],
)
def test_who_sees_and_stops_a_job(user: str, owner: str, see: bool, stop: bool) -> None:
    state = world()
    assert (may_see_job(state, user, owner), may_stop_job(state, user, owner)) == (see, stop)


@pytest.mark.parametrize(
    ("user", "plan", "expected"),
    [("viewer", "ops::canary", True), ("viewer", "ops::other", False), (ADMIN_ID, "x", True)],
)
def test_plans_run_by_name_or_all(user: str, plan: str, expected: bool) -> None:
    assert may_run_plan(world(), user, plan) is expected


def test_the_builtin_admin_holds_every_permission_and_is_made_once() -> None:
    state = world()
    admin = state.users[ADMIN_ID]
    assert (admin.login, admin.roles) == ("admin", [ADMIN_ROLE])
    assert state.roles[ADMIN_ROLE].permissions == list(ADMIN_PERMISSIONS)
    assert builtin_events(state, 1.0) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tasks:run:package::status", Permission("tasks", "run", "package::status")),
        ("tasks:run:*", Permission("tasks", "run", "*")),
        ("node_groups:view:00000000-0000-4000-8000-000000000000", None),
        ("users:edit:*", Permission("users", "edit", "*")),
    ],
)
def test_permissions_parse_as_triples(text: str, expected: Permission | None) -> None:
    parsed = P(text)
    assert str(parsed) == text
    if expected is not None:
        assert parsed == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("tasks:run", "expected object_type:action:instance"),
        ("tasks:run:", "expected object_type:action:instance"),
        ("jobs:run:*", "unknown object type 'jobs'"),
        ("tasks:walk:*", "tasks has no action 'walk'"),
        ("puppet_agent:run:web-1", "applies only to every instance"),
        ("tasks:run:a b", "is not a name, an id or *"),
    ],
)
def test_a_bad_permission_says_why(text: str, says: str) -> None:
    with pytest.raises(BadPermission, match=says):
        P(text)
