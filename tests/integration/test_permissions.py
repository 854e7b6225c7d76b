"""Who may do what, over real HTTP: a matrix of users (admin, deployer, a task runner limited
to a task-target, viewer, a disabled user, an expired token, a revoked token, no known token)
against every command, read and admin endpoint, each cell an expected status and kind.

One engine serves the whole module: its users, roles and tokens are made through the admin
endpoints, as an operator would, and the admin's job is made before any other.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import pytest
import pytest_asyncio

from podium.jsontypes import Json
from tests.conftest import Api, running
from tests.integration.test_streams import read_events, stream

pytestmark = pytest.mark.asyncio(loop_scope="module")
ORCH: Final = "puppetlabs.orchestrator"
RBAC: Final = "puppetlabs.rbac"
ADMIN: Final = "/podium/v1"
ALL_NODES: Final = "00000000-0000-4000-8000-000000000000"


@dataclass
class World:
    api: Api  # the admin's
    tokens: dict[str, str]  # who -> token
    admin_job: str
    admin_schedule: str
    admin_job_event: str  # the id of its first job event

    def as_(self, who: str) -> Api:
        return Api(self.api.client, self.tokens[who])


async def admin_post(api: Api, path: str, body: Json, status: int = 200) -> Json:
    response = await api.client.post(path, json=body, headers=api.headers)
    answer = await response.json()
    assert response.status == status, answer
    return answer


async def issue(api: Api, user: str, lifetime: str = "1h") -> str:
    answer = await admin_post(
        api, f"{ADMIN}/tokens", {"user": user, "lifetime": lifetime}, status=201
    )
    return str(answer["token"])


async def make_user(api: Api, login: str, *permissions: str) -> None:
    await admin_post(api, f"{ADMIN}/users", {"login": login}, status=201)
    role = {"name": f"{login}-role", "permissions": list(permissions)}
    await admin_post(api, f"{ADMIN}/roles", role, status=201)
    await admin_post(api, f"{ADMIN}/roles/{login}-role/assign", {"users": [login]})


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    async with running(tmp_path_factory.mktemp("permissions") / "data") as (engine, api):
        admin_job = await api.run_task(["n-01"])
        await api.wait_job(admin_job)
        target = {"display_name": "echo on n-01", "tasks": ["testmod::echo"], "nodes": ["n-01"]}
        tt = (await admin_post(api, "/orchestrator/v1/command/task_target", target))["task_target"]
        await make_user(api, "deployer", "puppet_agent:run:*", "nodes:view_data:*")
        await make_user(api, "runner", f"tasks:run_with_constraints:{tt['name']}")
        await make_user(api, "viewer", "orchestrator:view:*")
        await make_user(api, "gone", "puppet_agent:run:*", "tasks:run:*")
        tokens = {"admin": api.token}
        for who in ("deployer", "runner", "viewer", "gone"):
            tokens[who] = await issue(api, who)
        await admin_post(api, f"{ADMIN}/users/gone/disable", {})
        tokens["expired"] = await issue(api, "deployer", lifetime="1s")
        expired_by = time.time() + 1.0  # its expiry is 1 s after it was issued, before now
        revoked = await admin_post(
            api, f"{ADMIN}/tokens", {"user": "deployer", "lifetime": "1h"}, status=201
        )
        await admin_post(api, f"{ADMIN}/tokens/{revoked['id']}/revoke", {})
        tokens["revoked"] = revoked["token"]
        tokens["nobody"] = "not-a-token-anyone-was-given"
        scheduled = await admin_post(api, f"{V1}/command/schedule_task", later(["n-01"]), 202)
        await asyncio.sleep(max(0.0, expired_by + 0.05 - time.time()))
        first_event = (await api.ok(f"/jobs/{admin_job}/events"))["items"][0]["id"]
        yield World(api, tokens, admin_job, scheduled["scheduled_job"]["name"], first_event)
        # Runs the matrix started on the slowpokes (a minute each) are stopped, not waited for
        # through the shutdown's grace period.
        for job in list(engine.projector.state.active):
            status, answer = await api.post("/command/stop", {"job": job, "force": True})
            assert status == 202, answer


# The matrix. A cell is the status and kind each user gets; the users whose token does not
# authenticate get the same answer everywhere.
WHO: Final = ("admin", "deployer", "runner", "viewer", "gone", "expired", "revoked", "nobody")
UNAUTHENTICATED: Final = {
    "gone": (401, f"{RBAC}/user-revoked"),
    "expired": (401, f"{RBAC}/token-expired"),
    "revoked": (401, f"{RBAC}/token-revoked"),
    "nobody": (401, f"{RBAC}/user-unauthenticated"),
}
OK, ACCEPTED, CREATED = (200, None), (202, None), (201, None)
DENIED = (403, f"{ORCH}/not-permitted")


@dataclass(frozen=True)
class Call:
    name: str
    method: str
    path: str  # {job} is the admin's job, {job_event} its first event
    body: Json = None
    # admin, deployer, runner, viewer (the others: UNAUTHENTICATED)
    expected: tuple[tuple[int, str | None], ...] = (OK, OK, OK, OK)


def task_on(nodes: list[str]) -> Json:
    return {"task": "testmod::echo", "params": {}, "scope": {"nodes": nodes}}


def later(nodes: list[str]) -> Json:
    """A task scheduled an hour ahead."""
    start = datetime.fromtimestamp(time.time() + 3600, UTC).isoformat()
    return {**task_on(nodes), "scheduled_time": start}


def environment_task(nodes: list[str]) -> Json:
    start = datetime.fromtimestamp(time.time() + 3600, UTC).isoformat()
    return {
        "type": "task",
        "input": {"name": "testmod::echo", "scope": {"nodes": nodes}},
        "schedule": {"start_time": start},
    }


V1 = "/orchestrator/v1"
CALLS: Final = [
    Call(
        "deploy",
        "POST",
        f"{V1}/command/deploy",
        {"environment": "production", "scope": {"nodes": ["n-02"]}},
        (ACCEPTED, ACCEPTED, DENIED, DENIED),
    ),
    Call(
        "task on a permitted node",
        "POST",
        f"{V1}/command/task",
        task_on(["n-01"]),
        (ACCEPTED, DENIED, ACCEPTED, DENIED),
    ),
    Call(
        "task on a node outside the task-target",
        "POST",
        f"{V1}/command/task",
        task_on(["n-01", "n-03"]),
        (ACCEPTED, DENIED, DENIED, DENIED),
    ),
    Call(
        "task on a query",
        "POST",
        f"{V1}/command/task",
        {**task_on([]), "scope": {"query": 'nodes[certname] { certname ~ "^n-0" }'}},
        (ACCEPTED, DENIED, (400, f"{ORCH}/query-error"), DENIED),
    ),
    Call(
        "task on a node group",
        "POST",
        f"{V1}/command/task",
        {**task_on([]), "scope": {"node_group": ALL_NODES}},
        (ACCEPTED, DENIED, DENIED, DENIED),
    ),
    Call(
        "stop the admin's job",
        "POST",
        f"{V1}/command/stop",
        {"job": "{job}"},
        (ACCEPTED, DENIED, DENIED, DENIED),
    ),
    Call(
        "rerun the admin's job",
        "POST",
        f"{V1}/command/rerun",
        {"job": "{job}", "nodes": "all"},
        (ACCEPTED, DENIED, DENIED, DENIED),
    ),
    Call(
        "task_target",
        "POST",
        f"{V1}/command/task_target",
        {"display_name": "x", "all_tasks": True, "nodes": ["n-05"]},
        (OK, DENIED, DENIED, DENIED),
    ),
    Call(
        "schedule a task on a permitted node",
        "POST",
        f"{V1}/command/schedule_task",
        later(["n-01"]),
        (ACCEPTED, DENIED, ACCEPTED, DENIED),
    ),
    Call(
        "schedule a task on a node outside the task-target",
        "POST",
        f"{V1}/command/schedule_task",
        later(["n-01", "n-03"]),
        (ACCEPTED, DENIED, DENIED, DENIED),
    ),
    Call(
        "schedule an environment task",
        "POST",
        f"{V1}/scheduled_jobs/environment_jobs",
        environment_task(["n-01"]),
        (OK, DENIED, OK, DENIED),
    ),
    Call("scheduled jobs", "GET", f"{V1}/scheduled_jobs"),
    Call("environment jobs", "GET", f"{V1}/scheduled_jobs/environment_jobs"),
    Call(
        "the admin's environment job",
        "GET",
        f"{V1}/scheduled_jobs/environment_jobs/{{schedule}}",
        expected=(OK, DENIED, DENIED, OK),
    ),
    Call(
        "delete the admin's scheduled job",
        "DELETE",
        f"{V1}/scheduled_jobs/{{schedule}}",
        expected=((204, None), DENIED, DENIED, DENIED),
    ),
    Call("jobs", "GET", f"{V1}/jobs"),
    Call("the admin's job", "GET", f"{V1}/jobs/{{job}}", expected=(OK, DENIED, DENIED, OK)),
    Call("its nodes", "GET", f"{V1}/jobs/{{job}}/nodes", expected=(OK, DENIED, DENIED, OK)),
    Call("its report", "GET", f"{V1}/jobs/{{job}}/report", expected=(OK, DENIED, DENIED, OK)),
    Call("its events", "GET", f"{V1}/jobs/{{job}}/events", expected=(OK, DENIED, DENIED, OK)),
    Call(
        "it as of its first event",
        "GET",
        f"{V1}/jobs/{{job}}?as_of={{job_event}}",
        expected=(OK, DENIED, DENIED, OK),
    ),
    Call("the usage", "GET", f"{V1}/usage"),
    Call("the audit trail", "GET", f"{V1}/audit?limit=5", expected=(OK, DENIED, DENIED, OK)),
    Call("every job's events, a page", "GET", f"{V1}/events?start=1&limit=5"),
    Call(
        "its diff with itself",
        "GET",
        f"{V1}/jobs/{{job}}/diff/{{job}}",
        expected=(OK, DENIED, DENIED, OK),
    ),
    Call("task_targets", "GET", f"{V1}/scopes/task_targets"),
    Call("a task_target", "GET", f"{V1}/scopes/task_targets/1"),
    Call("inventory", "GET", f"{V1}/inventory"),
    Call("a node", "GET", f"{V1}/inventory/n-01"),
    Call("inventory query", "POST", f"{V1}/inventory", {"nodes": ["n-01"]}),
    Call("inventory reload", "POST", f"{V1}/inventory/reload", {}, (OK, DENIED, DENIED, DENIED)),
    Call("tasks", "GET", f"{V1}/tasks"),
    Call("a task", "GET", f"{V1}/tasks/testmod/echo"),
    Call("environments", "GET", f"{V1}/environments"),
    Call("an environment", "GET", f"{V1}/environments/production"),
    Call("node_groups", "GET", f"{V1}/node_groups"),
    Call("root", "GET", V1),
    Call("status", "GET", f"{V1}/status"),
    Call("metrics", "GET", "/metrics"),
    Call("users", "GET", f"{ADMIN}/users", expected=(OK, DENIED, DENIED, DENIED)),
    Call(
        "add a user",
        "POST",
        f"{ADMIN}/users",
        {"login": "new-{who}"},
        (CREATED, DENIED, DENIED, DENIED),
    ),
    Call("roles", "GET", f"{ADMIN}/roles", expected=(OK, DENIED, DENIED, DENIED)),
    Call(
        "grant",
        "POST",
        f"{ADMIN}/roles/viewer-role/grant",
        {"permissions": ["orchestrator:view:*"]},
        (OK, DENIED, DENIED, DENIED),
    ),
    Call("tokens", "GET", f"{ADMIN}/tokens", expected=(OK, DENIED, DENIED, DENIED)),
    Call(
        "issue a token",
        "POST",
        f"{ADMIN}/tokens",
        {"user": "viewer", "lifetime": "1h"},
        (CREATED, DENIED, DENIED, DENIED),
    ),
]
CELLS: Final = [(call, who) for call in CALLS for who in WHO]


def expected(call: Call, who: str) -> tuple[int, str | None]:
    if who in UNAUTHENTICATED:
        return UNAUTHENTICATED[who]
    return call.expected[("admin", "deployer", "runner", "viewer").index(who)]


def _filled(value: Json, world: World, who: str) -> Json:
    if isinstance(value, str):
        filled = value.replace("{job}", world.admin_job).replace("{who}", who)
        filled = filled.replace("{schedule}", world.admin_schedule)
        return filled.replace("{job_event}", world.admin_job_event)
    if isinstance(value, dict):
        return {k: _filled(v, world, who) for k, v in value.items()}
    if isinstance(value, list):
        return [_filled(v, world, who) for v in value]
    return value


@pytest.mark.parametrize(("call", "who"), CELLS, ids=[f"{call.name}-{who}" for call, who in CELLS])
async def test_each_user_gets_the_expected_answer(world: World, call: Call, who: str) -> None:
    api = world.as_(who)
    path = str(_filled(call.path, world, who))
    body = _filled(call.body, world, who)
    response = await api.client.request(
        call.method,
        path,
        json=body if call.method in ("POST", "PUT") else None,
        headers=api.headers,
    )
    status, kind = expected(call, who)
    text = await response.text()
    assert response.status == status, text
    if kind is not None:
        # What the orchestrator_client gem reads of an error: a JSON body whose `kind` picks
        # the error class and whose `msg` is its message (`details` beside them).
        assert response.content_type == "application/json"
        answer = await response.json()
        assert (answer["kind"], set(answer)) == (kind, {"kind", "msg", "details"}), answer
        assert isinstance(answer["msg"], str), answer
        assert answer["msg"], answer
        assert isinstance(answer["details"], dict), answer


async def test_each_user_lists_only_the_jobs_they_may_see(world: World) -> None:
    runner_job = await world.as_("runner").run_task(["n-01"])
    listed = {}
    for who in ("admin", "runner", "viewer", "deployer"):
        items = (await world.as_(who).ok("/jobs"))["items"]
        listed[who] = {item["name"] for item in items}
        if who in ("runner", "deployer"):
            assert {item["owner"]["login"] for item in items} <= {who}
    assert {world.admin_job, runner_job} <= listed["admin"]
    assert listed["viewer"] == listed["admin"]
    assert runner_job in listed["runner"]
    assert world.admin_job not in listed["runner"]
    assert not listed["deployer"] & {world.admin_job, runner_job}


async def test_a_job_names_its_owner_with_the_full_user_object(world: World) -> None:
    name = await world.as_("runner").run_task(["n-01"])
    owner = (await world.api.ok(f"/jobs/{name}"))["owner"]
    assert (owner["login"], owner["is_superuser"], owner["is_revoked"]) == ("runner", False, False)
    admin = (await world.api.ok(f"/jobs/{world.admin_job}"))["owner"]
    assert (admin["login"], admin["is_superuser"], admin["role_ids"]) == ("admin", True, [1])


async def test_a_user_can_always_stop_their_own_job(world: World) -> None:
    runner = world.as_("runner")
    name = await runner.run_task(["n-01"])
    status, answer = await runner.post("/command/stop", {"job": name})
    assert status == 202, answer


async def test_a_refused_nodes_scope_names_the_nodes_and_creates_nothing(world: World) -> None:
    before = len((await world.api.ok("/jobs"))["items"])
    status, answer = await world.as_("runner").post(
        "/command/task", task_on(["n-01", "n-03", "n-04"])
    )
    assert (status, answer["kind"]) == (403, f"{ORCH}/not-permitted"), answer
    assert answer["details"]["nodes"] == ["n-03", "n-04"]
    assert len((await world.api.ok("/jobs"))["items"]) == before


async def test_the_global_stream_carries_only_the_jobs_a_user_may_see(world: World) -> None:
    """GET /events: a runner's stream has its own jobs' events and no other's; a viewer's
    has every job's."""
    runner = world.as_("runner")
    await runner.wait_job(await runner.run_task(["n-01"]))  # it ends after the admin's job
    own = [item["name"] for item in (await runner.ok("/jobs"))["items"]]
    finished = []
    for name in own:
        await runner.wait_job(name)
        events = (await runner.ok(f"/jobs/{name}/events"))["items"]
        finished += [e["id"] for e in events if e["type"] == "job_finished"]
    admins = (await world.api.ok(f"/jobs/{world.admin_job}/events"))["items"]
    (admins_end,) = [e["id"] for e in admins if e["type"] == "job_finished"]
    assert int(admins_end) < max(int(i) for i in finished)  # so the replay passes it

    path = "/events?start=1&type=job_finished"
    seen = await read_events(await stream(runner, path), count=len(finished))
    assert [e["id"] for e in seen] == sorted(finished, key=int)
    as_viewer = await read_events(await stream(world.as_("viewer"), path), count=len(own) + 1)
    # Each replayed event is told as its own job's (a replay over several jobs once paired
    # every event with the last job: the runner saw the admin's, as "Job 2 finished").
    assert {e["id"]: e["message"] for e in as_viewer}[
        admins_end
    ] == f"Job {world.admin_job} finished"
