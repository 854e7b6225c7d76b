"""Plans end to end over real HTTP and the embedded engine: plan_run checks the whole plan
before the 202, the leading scheduler runs its steps as jobs through the executor (real
subprocesses on `localhost`, simulated nodes on `sim`), and the plan job reads back as the
reference shapes it."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import pytest

from podium.jsontypes import Json
from podium.settings import EXAMPLE
from tests.conftest import DATA, Api, running

ORCH = "puppetlabs.orchestrator"


async def run_plan(api: Api, plan: str, params: Json, **extra: Json) -> str:
    status, answer = await api.post(
        "/command/plan_run", {"plan_name": plan, "params": params, **extra}
    )
    assert status == 202, answer
    assert set(answer) == {"name"}
    return str(answer["name"])


async def wait_plan(api: Api, name: str, timeout_s: float = 30.0) -> Json:
    async with asyncio.timeout(timeout_s):
        while True:
            plan = await api.ok(f"/plan_jobs/{name}")
            if plan["state"] in ("success", "failure"):
                return plan
            await asyncio.sleep(0.05)


async def events_of(api: Api, name: str) -> list[Json]:
    answer = await api.ok(f"/plan_jobs/{name}/events")
    return list(answer["items"])


async def test_a_plan_runs_its_steps_and_returns_its_value(api: Api) -> None:
    name = await run_plan(api, "plantest", {"targets": ["localhost", "n-01"], "pkg": "curl"})
    plan = await wait_plan(api, name)
    assert plan["state"] == "success", plan["result"]
    assert plan["result"]["name"] == "curl"
    assert plan["result"]["picked"] == "curl-dev"
    assert plan["result"]["targets"] == ["localhost", "n-01"]
    events = await events_of(api, name)
    assert [e["type"] for e in events] == ["task_start", "out_message", "plan_finished"]
    job = events[0]["details"]["job-id"]
    assert isinstance(job, int)
    assert events[1]["details"] == {"message": "first target reports curl (status)"}
    assert events[2]["details"] == {"plan-id": name, "result": plan["result"]}
    ran = await api.ok(f"/jobs/{job}")
    assert ran["type"] == "plan_task"
    assert ran["options"]["plan_job"] == name
    assert list(plan["status"]) == [str(job)]


async def test_commands_scripts_and_uploads_run_through_the_bolt_shim(
    api: Api, tmp_path: Path
) -> None:
    name = await run_plan(api, "plantest::commands", {"dir": str(tmp_path)})
    plan = await wait_plan(api, name)
    assert plan["state"] == "success", plan["result"]
    result = plan["result"]
    assert result["said"].startswith("hello from ")
    assert result["env"] == f"hi {tmp_path}\n"
    assert result["script"] == f"3 arguments: one two {tmp_path}\n"
    assert result["read_back"] == "uploaded by a plan\n"
    assert (tmp_path / "payload.txt").read_text() == "uploaded by a plan\n"
    assert (tmp_path / "count_args.sh").stat().st_mode & 0o777 == 0o755  # its mode kept
    kinds = [e["type"] for e in await events_of(api, name)]
    assert kinds == [
        "command_start",
        "command_start",
        "script_start",
        "upload_start",
        "upload_start",
        "command_start",
        "plan_finished",
    ]


async def test_a_failed_step_fails_the_plan_with_a_run_failure(api: Api) -> None:
    name = await run_plan(api, "plantest::failing", {"targets": "localhost"})
    plan = await wait_plan(api, name)
    assert plan["state"] == "failure"
    error = plan["result"]
    assert error["kind"] == "bolt/run-failure"
    assert error["msg"] == "run_task 'testmod::fail' failed on 1 target"
    assert error["details"]["result_set"][0]["status"] == "failure"
    assert [e["type"] for e in await events_of(api, name)] == [
        "task_start",
        "task_start",
        "plan_failed",
    ]


async def test_catch_errors_binds_the_failed_result_and_goes_on(api: Api) -> None:
    name = await run_plan(api, "plantest::catching", {"targets": "localhost"})
    plan = await wait_plan(api, name)
    assert (plan["state"], plan["result"]) == ("success", "failure")
    messages = [e["details"] for e in await events_of(api, name) if e["type"] == "out_message"]
    assert messages == [{"message": "the task ended failure"}]


async def test_parallel_steps_start_together(api: Api) -> None:
    name = await run_plan(api, "plantest::parallel", {"targets": "localhost", "seconds": 1})
    plan = await wait_plan(api, name)
    assert (plan["state"], plan["result"]) == ("success", ["success", "success"])
    assert len(plan["status"]) == 2
    events = [(await api.ok(f"/jobs/{job}/events"))["items"] for job in plan["status"]]
    started = [int(e["id"]) for job in events for e in job if e["type"] == "node_running"]
    ended = [int(e["id"]) for job in events for e in job if e["type"] == "node_finished"]
    # event ids are log positions: both runs had started before either ended
    assert max(started) < min(ended)


async def test_a_nested_plan_runs_between_plan_start_and_plan_end(api: Api) -> None:
    name = await run_plan(api, "plantest::outer", {"targets": "localhost"})
    plan = await wait_plan(api, name)
    assert (plan["state"], plan["result"]) == ("success", {"echoed": "from outer"})
    events = await events_of(api, name)
    assert [e["type"] for e in events] == [
        "plan_start",
        "task_start",
        "plan_end",
        "out_message",
        "plan_finished",
    ]
    assert events[0]["details"] == {"plan": "plantest::nested::inner"}
    assert events[2]["details"]["plan"] == "plantest::nested::inner"
    assert isinstance(events[2]["details"]["duration"], float)


@pytest.mark.parametrize(
    ("body", "status", "kind", "named"),
    [
        ({"plan_name": "nope::nothing"}, 404, "unknown-plan", "nope::nothing"),
        ({"plan_name": "Bad Name"}, 400, "validation-error", "Bad Name"),
        (
            {"plan_name": "plantest::puppet", "params": {"targets": "x"}},
            400,
            "validation-error",
            "puppet.pp",
        ),
        (
            {"plan_name": "plantest::unsupported", "params": {"targets": "x"}},
            400,
            "validation-error",
            ".map",
        ),
        ({"plan_name": "plantest::applies"}, 400, "validation-error", "resources"),
        ({"plan_name": "plantest::downloads"}, 400, "validation-error", "download"),
        (
            {"plan_name": "plantest", "environment": "nowhere"},
            404,
            "unknown-environment",
            "nowhere",
        ),
    ],
)
async def test_a_plan_that_cannot_run_is_refused_before_the_202(
    api: Api, body: Json, status: int, kind: str, named: str
) -> None:
    before = await api.ok("/plan_jobs")
    got, answer = await api.post("/command/plan_run", body)
    assert (got, answer["kind"]) == (status, f"{ORCH}/{kind}"), answer
    assert named in answer["msg"]
    assert await api.ok("/plan_jobs") == before


async def test_an_unsupported_construct_is_named_with_its_plan_and_step(api: Api) -> None:
    status, answer = await api.post(
        "/command/plan_run", {"plan_name": "plantest::unsupported", "params": {"targets": "x"}}
    )
    assert status == 400
    assert answer["details"]["plan"] == "plantest::unsupported"
    assert answer["details"]["step"] == "step 2 (doubled)"
    assert ".map" in answer["details"]["construct"]


async def test_every_bad_parameter_is_listed_in_one_error(api: Api) -> None:
    status, answer = await api.post(
        "/command/plan_run",
        {"plan_name": "plantest", "params": {"pkg": 3, "count": "two", "extra": 1}},
    )
    assert (status, answer["kind"]) == (400, f"{ORCH}/validation-error"), answer
    bad = sorted(error["parameter"] for error in answer["details"]["errors"])
    assert bad == ["count", "extra", "pkg", "targets"]


async def test_plans_are_listed_with_their_parameters(api: Api) -> None:
    listed = await api.ok("/plans?environment=production")
    names = [item["name"] for item in listed["items"]]
    assert "plantest::commands" in names
    assert "plantest::puppet" not in names  # only YAML plans run
    assert all(item["permitted"] for item in listed["items"])
    one = await api.ok("/plans/plantest/init")
    assert one["name"] == "plantest"
    assert one["metadata"]["parameters"]["pkg"] == {
        "type": "String",
        "description": None,
        "default_value": "openssl",
    }
    status, answer = await api.get("/plans/plantest/puppet")
    assert (status, answer["kind"]) == (400, f"{ORCH}/validation-error")
    status, answer = await api.get("/plans/plantest/absent")
    assert (status, answer["kind"]) == (404, f"{ORCH}/unknown-plan")


async def wait_running_job(api: Api, plan: str, count: int) -> str:
    """The plan job's `count`-th job, once its node runs."""
    async with asyncio.timeout(20):
        while True:
            jobs = sorted((await api.ok(f"/plan_jobs/{plan}"))["status"], key=int)
            if len(jobs) >= count:
                job = await api.ok(f"/jobs/{jobs[count - 1]}")
                if (job["node_states"] or {}).get("running"):
                    return str(job["name"])
            await asyncio.sleep(0.05)


async def test_stop_plan_ends_the_plan_and_leaves_its_running_job_to_stop(api: Api) -> None:
    name = await run_plan(api, "plantest::slow", {"targets": "slow-1"})
    job = await wait_running_job(api, name, 1)
    for _ in range(2):  # idempotent
        status, answer = await api.post("/command/stop_plan", {"plan_job": name})
        assert (status, answer) == (202, {"name": name})
    plan = await wait_plan(api, name)
    assert plan["state"] == "failure"
    assert plan["result"]["kind"] == "puppetlabs.orchestrator/plan-stopped"
    events = await events_of(api, name)
    assert [e["type"] for e in events] == ["task_start", "plan_failed"]
    assert (await api.ok(f"/jobs/{job}"))["state"] == "running"  # until /command/stop
    status, _ = await api.post("/command/stop", {"job": job, "force": True})
    assert status == 202
    assert (await api.wait_job(job))["state"] == "stopped"
    status, answer = await api.post("/command/stop_plan", {"plan_job": name})
    assert (status, answer) == (202, {"name": name})  # an ended plan: nothing changes
    assert await events_of(api, name) == events
    status, answer = await api.post("/command/stop_plan", {"plan_job": "999"})
    assert (status, answer["kind"]) == (404, f"{ORCH}/unknown-job")


async def test_a_failed_plan_resumes_from_the_failed_step_with_earlier_results(
    api: Api, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    name = await run_plan(api, "plantest::resumable", {"marker": str(marker)})
    plan = await wait_plan(api, name)
    assert plan["state"] == "failure"
    assert plan["result"]["details"]["action"] == "run_command"
    first_jobs = sorted(plan["status"], key=int)
    assert len(first_jobs) == 2
    status, answer = await api.post("/command/plan_resume", {"plan_job": name, "from_step": 9})
    assert (status, answer["kind"]) == (400, f"{ORCH}/validation-error")
    marker.write_text("now it is there\n")
    status, answer = await api.post("/command/plan_resume", {"plan_job": name, "from_step": 2})
    assert (status, answer) == (202, {"name": name})
    plan = await wait_plan(api, name)
    assert plan["state"] == "success", plan["result"]
    assert (plan["result"]["step"], plan["result"]["found"]) == ("after", "found\n")
    jobs = sorted(plan["status"], key=int)
    assert jobs[:2] == first_jobs  # step 1's job is not run again: its result came from the log
    assert len(jobs) == 4  # step 2 again, then step 3
    kinds = [e["type"] for e in await events_of(api, name)]
    assert kinds == [
        "task_start",
        "command_start",
        "plan_failed",
        "command_start",
        "task_start",
        "plan_finished",
    ]
    status, answer = await api.post("/command/plan_resume", {"plan_job": name, "from_step": 1})
    assert (status, answer["kind"]) == (400, f"{ORCH}/validation-error")  # it succeeded


async def test_bolt_drives_a_plan_through_plan_start_task_and_plan_finish(
    api: Api, tmp_path: Path
) -> None:
    """The bodies Bolt's orchestrator transport sends (reference §4.5)."""
    status, answer = await api.post(
        "/command/plan_start",
        {
            "plan_name": "ops::deploy",
            "description": "bolt plan run ops::deploy",
            "params": {"x": 1},
        },
    )
    assert status == 202, answer
    plan_job = answer["name"]
    body = {
        "task": "bolt_shim::command",
        "environment": "production",
        "noop": False,
        "params": {"command": "echo bolt was here"},
        "scope": {"nodes": ["localhost"]},
        "description": "run_command",
        "plan_job": plan_job,
    }
    status, answer = await api.post("/command/task", body)
    assert status == 202, answer
    job = await api.wait_job(answer["job"]["name"])
    assert (job["type"], job["options"]["plan_job"]) == ("plan_task", plan_job)
    nodes = await api.ok(f"/jobs/{job['name']}/nodes")
    result = nodes["items"][0]["result"]
    assert (result["stdout"], result["exit_code"]) == ("bolt was here\n", 0)
    # upload_file and run_script as orch.rb sends them: Base64.encode64 (lines of 60), st_mode
    script = base64.encodebytes(b'#!/bin/sh\necho "$# args: $*"\n' * 3).decode()
    for task, params in (
        ("bolt_shim::upload", {"path": str(tmp_path / "up"), "content": script, "mode": 0o100750}),
        ("bolt_shim::script", {"content": script, "arguments": ["a", "b c"]}),
    ):
        status, answer = await api.post(
            "/command/plan_task", {**body, "task": task, "params": params}
        )
        assert status == 202, answer
        done = await api.wait_job(answer["job"]["name"])
        assert done["node_states"] == {"finished": 1}, await api.ok(f"/jobs/{done['name']}/nodes")
    assert (tmp_path / "up").stat().st_mode & 0o777 == 0o750
    nodes = await api.ok(f"/jobs/{done['name']}/nodes")
    assert nodes["items"][0]["result"]["stdout"] == "2 args: a b c\n" * 3
    finish = {"plan_job": plan_job, "result": {"ok": True}, "status": "success"}
    status, answer = await api.post("/command/plan_finish", finish)
    assert (status, answer) == (202, {"name": plan_job})
    plan = await api.ok(f"/plan_jobs/{plan_job}")
    assert (plan["state"], plan["result"]) == ("success", {"ok": True})
    assert len(plan["status"]) == 3
    events = await events_of(api, plan_job)
    kinds = ["command_start", "upload_start", "script_start", "plan_finished"]
    assert [e["type"] for e in events] == kinds
    status, answer = await api.post("/command/task", body)
    assert (status, answer["kind"]) == (400, f"{ORCH}/plan-already-finished")
    status, answer = await api.post("/command/task", {**body, "plan_job": "77"})
    assert (status, answer["kind"]) == (404, f"{ORCH}/unknown-job")


async def test_environment_plan_run_takes_wrapped_parameters_and_node_queries(api: Api) -> None:
    body = {
        "plan_name": "plantest::nested::inner",
        "params": {
            "word": {"value": "wrapped"},
            "targets": {"type": "query", "value": 'nodes[certname] { certname = "localhost" }'},
        },
    }
    status, answer = await api.post("/command/environment_plan_run", body)
    assert status == 202, answer
    plan = await wait_plan(api, answer["name"])
    assert (plan["state"], plan["result"]) == ("success", {"echoed": "wrapped"})
    assert plan["options"]["parameters"]["targets"] == ["localhost"]


async def test_a_user_without_plans_run_is_refused(api: Api) -> None:
    limited = await api.as_new_user("nobody", ["plans:run:plantest::outer"])
    status, answer = await limited.post(
        "/command/plan_run", {"plan_name": "plantest", "params": {"targets": "localhost"}}
    )
    assert (status, answer["kind"]) == (403, f"{ORCH}/not-permitted")
    assert "plans:run:plantest" in answer["msg"]
    listed = await limited.ok("/plans")
    permitted = {item["name"] for item in listed["items"] if item["permitted"]}
    assert permitted == {"plantest::outer"}
    status, answer = await limited.post(
        "/command/plan_run", {"plan_name": "plantest::outer", "params": {"targets": "localhost"}}
    )
    assert status == 202, answer


async def test_plan_jobs_page_and_an_event_reads_whole(api: Api) -> None:
    names = [
        await run_plan(api, "plantest::nested::inner", {"targets": "n-01", "word": w}) for w in "ab"
    ]
    for name in names:
        await wait_plan(api, name)
    page = await api.ok("/plan_jobs?limit=1&offset=1&order_by=name&order=desc&results=exclude")
    assert [item["name"] for item in page["items"]] == [names[0]]
    assert "result" not in page["items"][0]
    assert page["pagination"] == {
        "limit": 1,
        "offset": 1,
        "order": "desc",
        "order_by": "name",
        "total": 2,
    }
    events = await events_of(api, names[1])
    last = events[-1]
    assert await api.ok(f"/plan_jobs/{names[1]}/event/{last['id']}") == last
    status, answer = await api.get(f"/plan_jobs/{names[0]}/event/{last['id']}")
    assert (status, answer["kind"]) == (404, f"{ORCH}/mismatched-job-event-id")
    later = await api.ok(f"/plan_jobs/{names[1]}/events?start={last['id']}")
    assert later["items"] == [last]
    assert later["next-events"]["event"] == str(int(last["id"]) + 1)
    status, answer = await api.get("/plan_jobs?order_by=nope")
    assert (status, answer["kind"]) == (400, f"{ORCH}/validation-error")


async def test_the_bundled_example_plan_runs_as_the_readme_shows(tmp_path: Path) -> None:
    example = {"inventory": EXAMPLE.inventory, "environments": EXAMPLE.environments}
    async with running(tmp_path / "data", **example) as (_, api):
        name = await run_plan(
            api, "demo::rollout", {"canary": "localhost", "rest": "web-001,web-002"}
        )
        plan = await wait_plan(api, name)
        assert plan["state"] == "success", plan["result"]
        assert plan["result"]["canary"]["echo"] == {"message": "hello", "_task": "demo::echo"}
        assert "load average" in plan["result"]["uptime"]
        assert [r["target"] for r in plan["result"]["rest"]] == ["web-001", "web-002"]
        messages = [
            e["details"]["message"]
            for e in await events_of(api, name)
            if e["type"] == "out_message"
        ]
        assert messages == ["canary localhost answered: hello"]


async def test_a_plan_jobs_events_stream_as_server_sent_events(api: Api) -> None:
    name = await run_plan(api, "plantest::outer", {"targets": "localhost"})
    headers = {**api.headers, "Accept": "text/event-stream"}
    response = await api.client.get(f"/orchestrator/v1/plan_jobs/{name}/events", headers=headers)
    assert response.headers["Content-Type"].startswith("text/event-stream")
    text = await response.text()  # the stream ends after plan_finished
    kinds = [
        line.removeprefix("event: ") for line in text.splitlines() if line.startswith("event:")
    ]
    assert kinds == ["plan_start", "task_start", "plan_end", "out_message", "plan_finished"]
    ids = [line.removeprefix("id: ") for line in text.splitlines() if line.startswith("id:")]
    resumed = await api.client.get(
        f"/orchestrator/v1/plan_jobs/{name}/events", headers={**headers, "Last-Event-ID": ids[2]}
    )
    rest = [line for line in (await resumed.text()).splitlines() if line.startswith("event:")]
    assert rest == ["event: out_message", "event: plan_finished"]


async def test_the_references_plan_examples_sent_verbatim(tmp_path: Path) -> None:
    """§4.4: environment_plan_run's wrapped parameters (the nodes of a query: the two of the
    spec's inventory), and stop_plan's body for a plan job that does not exist."""
    spec_inventory = DATA / "spec" / "inventory.yaml"
    async with running(tmp_path / "data", inventory=spec_inventory) as (_, api):
        params = (
            '{"command": {"value": "whoami"}, '
            '"targets": {"type": "query", "value": "nodes[certname] { }"}}'
        )
        body = f'{{"plan_name": "plantest::command", "params": {params}}}'
        status, answer = await api.post_raw("/command/environment_plan_run", body.encode())
        assert status == 202, answer
        plan = await wait_plan(api, answer["name"])
        assert plan["state"] == "success", plan["result"]
        assert [r["target"] for r in plan["result"]] == ["node1.example.com", "node2.example.com"]
        assert plan["options"]["parameters"]["command"] == "whoami"
        status, answer = await api.post_raw("/command/stop_plan", b'{"plan_job": "12"}')
        assert (status, answer["kind"]) == (404, f"{ORCH}/unknown-job")
        status, answer = await api.post_raw("/command/stop_plan", b'{"plan_job": "1"}')
        assert (status, answer) == (202, {"name": "1"})


async def test_a_sensitive_parameter_is_checked_and_hidden_from_reads(api: Api) -> None:
    status, answer = await api.post(
        "/command/plan_run",
        {"plan_name": "plantest::secret", "params": {"targets": "localhost", "password": "short"}},
    )
    assert (status, answer["kind"]) == (400, f"{ORCH}/validation-error"), answer
    assert "short" not in answer["msg"]  # a sensitive value is described by its type only
    name = await run_plan(
        api, "plantest::secret", {"targets": "localhost", "password": "s3cr3t-pw"}
    )
    plan = await wait_plan(api, name)
    assert plan["state"] == "success", plan["result"]
    assert plan["options"]["sensitive"] == ["password"]
    assert plan["options"]["parameters"]["password"] == "Sensitive [value redacted]"
    assert "s3cr3t-pw" not in json.dumps(await api.ok("/plan_jobs"))
    job = next(iter(plan["status"]))
    nodes = await api.ok(f"/jobs/{job}/nodes")
    assert nodes["items"][0]["result"]["length"] == "s3cr3t-pw"  # the task got the value


async def test_a_plan_stopped_mid_step_resumes_from_that_step_once_its_job_has_ended(
    api: Api,
) -> None:
    """The stopped step's job ends (stopped) after the plan did, and leaves memory with it
    (podium.history): a resume from that step runs it again as a new job; a resume from a
    later step says the stopped one has no result, rather than a job "not in the log"."""
    name = await run_plan(api, "plantest::slow", {"targets": "localhost", "seconds": 30})
    job = await wait_running_job(api, name, 2)  # step 2 (sleep) runs
    status, _ = await api.post("/command/stop_plan", {"plan_job": name})
    assert status == 202
    assert (await wait_plan(api, name))["state"] == "failure"
    status, _ = await api.post("/command/stop", {"job": job, "force": True})
    assert status == 202
    assert (await api.wait_job(job))["state"] == "stopped"

    past_it = {"plan_job": name, "from_step": 3}
    assert (await api.post("/command/plan_resume", past_it))[0] == 202
    plan = await wait_plan(api, name)
    assert plan["state"] == "failure"
    assert "ended after the plan was stopped" in plan["result"]["msg"], plan["result"]

    status, answer = await api.post("/command/plan_resume", {"plan_job": name, "from_step": 2})
    assert (status, answer) == (202, {"name": name})
    again = await wait_running_job(api, name, 3)  # step 2 as a job of its own
    assert again != job
    status, _ = await api.post("/command/stop_plan", {"plan_job": name})
    assert status == 202
    status, _ = await api.post("/command/stop", {"job": again, "force": True})
    assert status == 202
    await api.wait_job(again)
