"""GET /tasks and /tasks/<module>/<task>, parameter validation before the 202, sensitive
parameters, the environment of a local run, and a deploy on `local` through a fake agent."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml

from podium.executor.settings import BASE_ENV_NAMES
from podium.jsontypes import Json
from tests.conftest import ENVIRONMENTS, Api, running

TESTMOD = ENVIRONMENTS / "production" / "modules" / "testmod"
FAKE_AGENT = ENVIRONMENTS / "production" / "bin" / "fake-agent"
REPORTS = Path(__file__).parents[1] / "data" / "reports"


async def test_the_task_list_names_every_public_task_with_its_url(api: Api) -> None:
    body = await api.ok("/tasks?environment=production")
    assert body["environment"] == {"name": "production", "code_id": None}
    names = [item["name"] for item in body["items"]]
    assert names == sorted(names)
    assert {"testmod", "testmod::echo", "testmod::typed", "testmod::dupes"} <= set(names)
    assert "testmod::hidden" not in names  # private
    assert "testmod::broken_type" in names  # listed; refused when run
    base = f"http://{api.client.server.host}:{api.client.server.port}/orchestrator/v1"
    by_name = {item["name"]: item["id"] for item in body["items"]}
    assert by_name["testmod"] == f"{base}/tasks/testmod/init"
    assert by_name["testmod::echo"] == f"{base}/tasks/testmod/echo"
    assert body == await api.ok("/tasks")  # production is the default


async def test_a_task_shows_its_metadata_as_written_and_its_files_with_digests(api: Api) -> None:
    body = await api.ok("/tasks/testmod/init")
    assert body["name"] == "testmod"
    assert body["id"].endswith("/orchestrator/v1/tasks/testmod/init")
    assert body["environment"] == {"name": "production", "code_id": None}
    assert body["metadata"] == {
        "description": "The module's default task",
        "files": ["testmod/files/helper.sh", "testmod/files/conf/"],
    }
    expected = []
    for filename, path in [
        ("init.sh", TESTMOD / "tasks" / "init.sh"),
        ("testmod/files/helper.sh", TESTMOD / "files" / "helper.sh"),
        ("testmod/files/conf/a.conf", TESTMOD / "files" / "conf" / "a.conf"),
        ("testmod/files/conf/b.conf", TESTMOD / "files" / "conf" / "b.conf"),
    ]:
        data = path.read_bytes()
        uri_path = "/testmod/tasks/init.sh" if filename == "init.sh" else f"/{filename}"
        expected.append(
            {
                "filename": filename,
                "uri": {"path": uri_path, "params": {"environment": "production"}},
                "sha256": hashlib.sha256(data).hexdigest(),
                "size_bytes": len(data),
            }
        )
    assert body["files"] == expected


async def test_task_metadata_keeps_the_last_duplicate_and_unknown_keys(api: Api) -> None:
    body = await api.ok("/tasks/testmod/dupes")
    assert body["metadata"] == {
        "description": "last wins",
        "x-custom": {"kept": True},
        "parameters": {},
    }
    assert (await api.ok("/tasks/testmod/hidden"))["name"] == "testmod::hidden"


@pytest.mark.parametrize(
    ("path", "status", "kind"),
    [
        ("/tasks?environment=nowhere", 404, "unknown-environment"),
        ("/tasks?environment=no-such-env", 404, "unknown-environment"),
        ("/tasks?environment=../production", 400, "validation-error"),
        ("/tasks?environment=.hidden", 400, "validation-error"),
        ("/tasks/testmod/nope", 404, "unknown-task"),
        ("/tasks/nomodule/init", 404, "unknown-task"),
        ("/tasks/TestMod/echo", 400, "validation-error"),
        ("/tasks/testmod/echo?environment=nowhere", 404, "unknown-environment"),
    ],
)
async def test_task_reads_refuse_bad_names_with_the_api_error_format(
    api: Api, path: str, status: int, kind: str
) -> None:
    answer_status, body = await api.get(path)
    assert answer_status == status
    assert body["kind"] == f"puppetlabs.orchestrator/{kind}"
    assert body["msg"]


def typed(**params: Json) -> Json:
    return {"task": "testmod::typed", "params": params, "scope": {"nodes": ["n-01"]}}


async def test_valid_parameters_are_accepted_with_defaults_applied(api: Api) -> None:
    params = {
        "name": "web",
        "ratio": 0.5,
        "size": 3,
        "mode": "slow",
        "version": "1.2",
        "either": "all",
        "tags": ["a"],
        "labels": {"x": 1},
        "options": {"path": "/srv"},
        "pair": ["a", 1],
        "data": {"k": [None]},
        "anything": 5,
        "nothing": None,
        "something": 0,
        "count": None,  # null takes the default too
    }
    status, answer = await api.post("/command/task", typed(**params))
    assert status == 202, answer
    job = await api.ok(f"/jobs/{answer['job']['name']}")
    assert job["options"]["params"] == {
        **params,
        "count": 2,
        "enabled": False,
        "blob": {},
    }


async def test_bad_parameters_get_one_error_listing_each_with_its_expected_type(api: Api) -> None:
    jobs_before = (await api.ok("/jobs"))["pagination"]["total"]
    body = typed(
        name="far too long a name",
        count=9,
        ratio=1,
        enabled="yes",
        mode="medium",
        version="v1",
        tags=["a", "b", "c", "d"],
        options={"path": "/srv", "owner": 7},
        pair=["a", "b"],
        something=None,
        surprise=True,
    )
    status, answer = await api.post("/command/task", body)
    assert status == 400
    assert answer["kind"] == "puppetlabs.orchestrator/validation-error"
    errors = {e["parameter"]: e for e in answer["details"]["errors"]}
    assert {name: e["expected"] for name, e in errors.items()} == {
        "name": "String[1, 10]",
        "count": "Integer[1, 5]",
        "ratio": "Optional[Float]",
        "enabled": "Boolean",
        "mode": "Enum[fast, 'slow']",
        "version": "Optional[Pattern[/^\\d+\\.\\d+$/]]",
        "tags": "Array[String[1], 0, 3]",
        "options": "Optional[Struct[{path => String, Optional[owner] => String}]]",
        "pair": "Optional[Tuple[String, Integer]]",
        "something": "NotUndef",
        "surprise": "",
    }
    assert (
        errors["options"]["message"]
        == "parameter options['owner'] expects String, got Integer[7, 7]"
    )
    assert errors["surprise"]["field"] == "params.surprise"
    assert "does not accept parameter surprise" in errors["surprise"]["message"]
    assert answer["details"]["task"] == "testmod::typed"
    assert (await api.ok("/jobs"))["pagination"]["total"] == jobs_before  # nothing changed


async def test_missing_required_parameters_are_named(api: Api) -> None:
    status, answer = await api.post("/command/task", typed())
    assert status == 400
    assert [e["message"] for e in answer["details"]["errors"]] == [
        "parameter name expects a value of String[1, 10]",
        "parameter something expects a value of NotUndef",
    ]


@pytest.mark.parametrize(
    ("task", "params", "noop", "reason"),
    [
        ("testmod::echo", {}, True, "does not support noop"),
        ("testmod::echo", {"_noop": True}, False, "set by the runner"),
        ("testmod::broken_type", {"path": "/x"}, False, "unknown type Stdlib::Absolutepath"),
        ("testmod::dupes", {"a": 1}, False, "accepts: none"),
        ("testmod::bad_default", {}, False, "parameter retries: its default expects Integer[0, 5]"),
    ],
)
async def test_a_task_that_cannot_take_the_request_is_refused_before_the_202(
    api: Api, task: str, params: Json, noop: bool, reason: str
) -> None:
    body = {"task": task, "params": params, "scope": {"nodes": ["n-01"]}, "noop": noop}
    status, answer = await api.post("/command/task", body)
    assert status == 400
    assert answer["kind"] == "puppetlabs.orchestrator/validation-error"
    assert reason in answer["msg"]


async def test_sensitive_parameters_are_redacted_when_shown_but_reach_the_task(api: Api) -> None:
    body = {
        "task": "testmod::secret",
        "params": {"user": "deploy", "password": "hunter22"},
        "scope": {"nodes": ["localhost"]},
    }
    status, answer = await api.post("/command/task", body)
    assert status == 202, answer
    name = answer["job"]["name"]
    job = await api.wait_job(name)
    assert job["options"]["sensitive"] == ["password"]
    assert job["options"]["params"] == {"user": "deploy", "password": "Sensitive [value redacted]"}
    listed = (await api.ok("/jobs"))["items"]
    assert "hunter22" not in str(listed)
    nodes = (await api.ok(f"/jobs/{name}/nodes"))["items"]
    assert nodes[0]["result"] == {"user": "deploy", "password_length": 8}


@pytest.mark.parametrize("password", [31337, ["hunter2-secret"], {"hunter2-secret": 1}])
async def test_a_bad_sensitive_value_never_appears_in_the_400(api: Api, password: Json) -> None:
    body = {
        "task": "testmod::secret",
        "params": {"user": "deploy", "password": password},
        "scope": {"nodes": ["localhost"]},
    }
    response = await api.client.post(
        "/orchestrator/v1/command/task", json=body, headers=api.headers
    )
    text = await response.text()
    assert response.status == 400
    assert "31337" not in text
    assert "hunter2" not in text
    (error,) = (await response.json())["details"]["errors"]
    assert error["message"].startswith("parameter password expects String[1], got ")


async def test_a_changed_task_is_seen_by_the_next_request(tmp_path: Path) -> None:
    tasks = tmp_path / "environments" / "production" / "modules" / "pkg" / "tasks"
    tasks.mkdir(parents=True)
    (tasks / "init.sh").write_text("#!/bin/sh\ncat\n")
    metadata = tasks / "init.json"
    body = {"task": "pkg", "params": {"n": "five"}, "scope": {"nodes": ["n-01"]}}
    async with running(tmp_path / "data", environments=tmp_path / "environments") as (_, api):
        metadata.write_text(json.dumps({"parameters": {"n": {"type": "Integer"}}}))
        assert (await api.post("/command/task", body))[0] == 400
        metadata.write_text(json.dumps({"parameters": {"n": {"type": "String"}}}))
        assert (await api.post("/command/task", body))[0] == 202
        (tasks / "init.sh").unlink()
        status, answer = await api.post("/command/task", body)
        assert status == 400
        assert answer["msg"] == "Task pkg cannot be used: task pkg: init.json names no executable"
        metadata.unlink()
        status, answer = await api.post("/command/task", body)
    assert (status, answer["kind"]) == (404, "puppetlabs.orchestrator/unknown-task")


async def test_a_local_run_sees_only_the_allowed_variables_and_its_own(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PODIUM_AMQP_URL", "amqp://podium:s3cret@broker:5672/")
    monkeypatch.setenv("SOME_API_TOKEN", "t0ken")
    name = await api.run_task(["localhost"], task="testmod::environ", params={"x": 1})
    job = await api.wait_job(name)
    (node,) = (await api.ok(f"/jobs/{name}/nodes"))["items"]
    assert job["node_states"] == {"finished": 1}, node
    names = set(node["result"]["names"])
    assert {"PT_x", "PT__task", "PATH"} <= names
    unexpected = {n for n in names if not n.startswith(("PT_", "LC_")) and n not in BASE_ENV_NAMES}
    assert unexpected <= {"PWD", "SHLVL", "_"}  # what a shell or env itself may add


async def test_the_run_as_metaparameter_is_refused_on_local(api: Api) -> None:
    params = {"_run_as": "nobody"}
    name = await api.run_task(["localhost"], task="testmod::echo", params=params)
    job = await api.wait_job(name)
    (node,) = (await api.ok(f"/jobs/{name}/nodes"))["items"]
    assert job["node_states"] == {"errored": 1}
    assert node["result"]["msg"] == (
        "The local transport cannot run testmod::echo as another user (_run_as nobody)"
    )


def agent_environments(
    root: Path, exit_code: int = 0, report: Path | None = None
) -> tuple[Path, Path]:
    """Environments whose production deploys with the fake agent, told by its arguments where to
    log its flags, how to exit and which report to leave; returns the environments directory
    and the log."""
    log = root / "agent.log"
    production = root / "environments" / "production"
    production.mkdir(parents=True)
    command = [str(FAKE_AGENT), "--fake-log", str(log), "--fake-exit", str(exit_code)]
    if report is not None:
        command += ["--fake-report", str(report)]
    command += ["--test", "--detailed-exitcodes"]
    (production / "podium.yaml").write_text(json.dumps({"agent-command": command}))
    return root / "environments", log


@pytest.mark.parametrize(
    ("exit_code", "state", "status"),
    [(0, "finished", "unchanged"), (2, "finished", "changed"), (4, "failed", "failed"),
     (6, "failed", "failed"), (1, "failed", "failed"), (3, "errored", None)],
)  # fmt: skip
async def test_a_deploy_on_local_maps_the_agent_exit_code(
    tmp_path: Path, exit_code: int, state: str, status: str | None
) -> None:
    environments, log = agent_environments(tmp_path, exit_code)
    job, node = await deploy_localhost(tmp_path, environments)
    assert job["node_states"] == {state: 1}
    if status is None:
        assert node["result"]["kind"] == "puppetlabs.orchestrator/execution-failure"
        assert f"exit code {exit_code}" in node["result"]["msg"]
    else:
        assert node["result"]["status"] == status
        assert node["result"]["exit_code"] == exit_code
    assert agent_flags(log, job["name"]) == "--test --detailed-exitcodes --environment production"


async def deploy_localhost(tmp_path: Path, environments: Path) -> tuple[Json, Json]:
    """Deploy production on `localhost` (the local transport); the job and its node once done."""
    body = {"environment": "production", "scope": {"nodes": ["localhost"]}}
    async with running(tmp_path / "data", environments=environments) as (_, api):
        status, answer = await api.post("/command/deploy", body)
        assert status == 202, answer
        job = await api.wait_job(answer["job"]["name"])
        (node,) = (await api.ok(f"/jobs/{job['name']}/nodes"))["items"]
    return job, node


def agent_flags(log: Path, job: str) -> str:
    """The flags the fake agent logged, checking that the run's report went to a directory of
    its own (removed since) and that the job's name went with it."""
    flags, report = log.read_text().rstrip("\n").split(f" --job-id {job} --lastrunreport ")
    assert Path(report).name == "last_run_report.yaml"
    assert Path(report).parent.name.startswith("podium-deploy-")
    assert not Path(report).parent.exists()
    return flags


async def test_a_deploy_passes_the_requested_flags_to_the_agent(tmp_path: Path) -> None:
    environments, log = agent_environments(tmp_path)
    body = {
        "environment": "production",
        "scope": {"nodes": ["localhost"]},
        "noop": True,
        "debug": True,
        "trace": True,
        "evaltrace": True,
    }
    async with running(tmp_path / "data", environments=environments) as (_, api):
        status, answer = await api.post("/command/deploy", body)
        assert status == 202, answer
        job = await api.wait_job(answer["job"]["name"])
    assert job["node_states"] == {"finished": 1}  # the fake agent refuses flags it does not know
    assert agent_flags(log, job["name"]) == (
        "--test --detailed-exitcodes --noop --debug --trace --evaltrace --environment production"
    )


@pytest.mark.parametrize(
    ("report", "exit_code", "state", "message", "environment"),
    [
        ("changed", 2, "finished", "Finished puppet run on localhost - changed", "t1"),
        ("compile", 1, "failed", "Puppet run failed on localhost: Could not retrieve", "broken"),
    ],
)
async def test_a_deploy_on_local_reads_back_the_agents_report(
    tmp_path: Path, report: str, exit_code: int, state: str, message: str, environment: str
) -> None:
    source = REPORTS / f"{report}.yaml"
    environments, _ = agent_environments(tmp_path, exit_code, source)
    _, node = await deploy_localhost(tmp_path, environments)
    assert node["state"] == state
    assert node["details"]["message"].startswith(message)
    assert node["result"]["environment"] == environment  # the report's, not the request's
    assert node["result"]["metrics"]["total"] == (9 if report == "changed" else 0)
    uuid = yaml.safe_load(source.read_text().split("\n", 1)[1])["transaction_uuid"]
    assert node["transaction_uuid"] == node["result"]["transaction_uuid"] == uuid


async def test_a_report_that_cannot_be_read_leaves_the_exit_code_to_decide(
    tmp_path: Path,
) -> None:
    garbage = tmp_path / "garbage.yaml"
    garbage.write_bytes(b"status: [unclosed")
    environments, _ = agent_environments(tmp_path, 2, garbage)
    _, node = await deploy_localhost(tmp_path, environments)
    assert node["state"] == "finished"
    assert node["result"]["status"] == "changed"
    assert node["result"]["metrics"] is None
    assert node["transaction_uuid"] is None
