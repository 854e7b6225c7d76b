"""Real Puppet end to end: deploys are real agent runs against a real puppetserver, their results
the agents' own reports; `query` scopes and node groups are evaluated by a real PuppetDB, over
facts that real agent runs submitted. tests/puppet.py starts both servers once per session.

Each test deploys an environment of its own, made in the servers' environment path from the
bundled example (its site.pp and `hello` module), with its Hiera data pointing `hello::dir` at
the test's temporary directory and its agent under a certname of its own.
"""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import re
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final

import pytest

from podium.jsontypes import Json
from podium.settings import EXAMPLES
from tests.conftest import Api, running
from tests.puppet import PuppetServers
from tests.sshd import SshServer, config_for, require_run_as, sudo_user

EXAMPLE: Final = EXAMPLES / "environments" / "production"
UUID: Final = re.compile(r"\A[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
DEPLOY_S: Final = 300.0  # a real agent run, on a busy two-core machine


@pytest.fixture(scope="session")
def certnames(puppet_servers: PuppetServers) -> Iterator[str]:
    """Agents' certnames, each handed out once in the session."""
    return iter(puppet_servers.certnames)


def environment(
    servers: PuppetServers,
    certname: str,
    data: dict[str, Json] | None = None,
    site: str | None = None,
) -> str:
    """A new environment in the servers' environment path: the example's site.pp (or `site`) and
    modules, `data` as its Hiera data, and an agent-command running as `certname`."""
    name = f"t_{uuid.uuid4().hex[:10]}"
    root = servers.environments / name
    (root / "manifests").mkdir(parents=True)
    (root / "data").mkdir()
    site_pp = site if site is not None else (EXAMPLE / "manifests" / "site.pp").read_text()
    (root / "manifests" / "site.pp").write_text(site_pp)
    (root / "modules").symlink_to(EXAMPLE / "modules")
    (root / "hiera.yaml").write_text(
        json.dumps({"version": 5, "hierarchy": [{"name": "common", "path": "common.yaml"}]})
    )
    (root / "data" / "common.yaml").write_text(json.dumps(data or {}))
    command = {"agent-command": servers.agent_command(certname)}
    (root / "podium.yaml").write_text(json.dumps(command))
    return name


def inventory(path: Path, targets: list[Json]) -> Path:
    """These targets, and every other node simulated."""
    path.write_text(json.dumps({"version": 2, "config": {"transport": "sim"}, "targets": targets}))
    return path


@asynccontextmanager
async def podium(
    tmp_path: Path, servers: PuppetServers, targets: list[Json], **overrides: Any
) -> AsyncIterator[Api]:
    """Podium on the servers' environments, with these inventory targets."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = inventory(tmp_path / "inventory.yaml", targets)
    settings = {"environments": servers.environments, "inventory": path, **overrides}
    async with running(tmp_path / "data", **settings) as (_, api):
        yield api


async def deploy(api: Api, environment: str, node: str, **flags: Json) -> tuple[Json, Json]:
    body = {"environment": environment, "scope": {"nodes": [node]}, **flags}
    status, answer = await api.post("/command/deploy", body)
    assert status == 202, answer
    job = await api.wait_job(answer["job"]["name"], timeout_s=DEPLOY_S)
    (item,) = (await api.ok(f"/jobs/{job['name']}/nodes"))["items"]
    return job, item


def assert_report_fields(item: Json, environment: str) -> None:
    result = item["result"]
    assert result["environment"] == environment
    assert result["configuration_version"].isdigit()  # puppetserver's default: the time
    assert UUID.match(result["transaction_uuid"])
    assert item["transaction_uuid"] == result["transaction_uuid"]
    assert set(result["metrics"]) == {
        "total", "changed", "failed", "skipped", "restarted", "failed_to_restart",
        "scheduled", "out_of_sync", "corrective_change",
    }  # fmt: skip


async def test_a_noop_deploy_counts_pending_changes_and_changes_nothing(
    puppet_servers: PuppetServers, certnames: Iterator[str], tmp_path: Path
) -> None:
    node = next(certnames)
    managed = tmp_path / "managed"
    env = environment(puppet_servers, node, {"hello::dir": str(managed)})
    async with podium(tmp_path, puppet_servers, [local(node)]) as api:
        job, item = await deploy(api, env, node, noop=True)
    assert job["node_states"] == {"finished": 1}, item
    result = item["result"]
    assert result["status"] == "unchanged"
    assert result["noop"] == {"noop": True, "no_noop": False}
    assert result["noop_pending"] is True
    assert result["metrics"]["out_of_sync"] == 2  # the directory and the file
    assert result["metrics"]["changed"] == 0
    assert_report_fields(item, env)
    assert not managed.exists()


async def test_an_enforcing_deploy_writes_the_file_and_reports_the_change(
    puppet_servers: PuppetServers, certnames: Iterator[str], tmp_path: Path
) -> None:
    node = next(certnames)
    managed = tmp_path / "managed"
    env = environment(puppet_servers, node, {"hello::dir": str(managed)})
    async with podium(tmp_path, puppet_servers, [local(node)]) as api:
        job, item = await deploy(api, env, node)
        assert job["node_states"] == {"finished": 1}, item
        assert item["details"]["message"] == f"Finished puppet run on {node} - changed"
        result = item["result"]
        assert (result["status"], result["exit_code"], result["noop_pending"]) == (
            "changed",
            2,
            False,
        )
        assert result["metrics"]["changed"] == 2
        assert_report_fields(item, env)
        hello = managed / "hello.txt"
        assert hello.read_text() == f"Hello from Puppet: {node} in environment {env}\n"
        _, again = await deploy(api, env, node)
    assert again["result"]["status"] == "unchanged"
    assert again["result"]["transaction_uuid"] != result["transaction_uuid"]
    reports = await asyncio.to_thread(
        puppet_servers.wait_for,
        ["from", "reports", ["=", "transaction_uuid", result["transaction_uuid"]]],
    )
    assert [(r["certname"], r["job_id"], r["status"]) for r in reports] == [
        (node, job["name"], "changed")
    ]


async def test_a_catalog_that_does_not_compile_fails_the_node_with_the_compilers_message(
    puppet_servers: PuppetServers, certnames: Iterator[str], tmp_path: Path
) -> None:
    node = next(certnames)
    site = "node default {\n  fail('this catalog does not compile')\n}\n"
    env = environment(puppet_servers, node, site=site)
    async with podium(tmp_path, puppet_servers, [local(node)]) as api:
        job, item = await deploy(api, env, node)
    assert job["node_states"] == {"failed": 1}, item
    message = item["details"]["message"]
    assert message.startswith(f"Puppet run failed on {node}: Could not retrieve catalog")
    assert "this catalog does not compile" in message
    assert "manifests/site.pp, line: 2" in message
    assert item["result"]["status"] == "failed"
    assert item["result"]["exit_code"] == 1
    assert any("this catalog does not compile" in error for error in item["result"]["errors"])


async def test_a_deploy_over_ssh_runs_the_agent_as_root_and_reads_its_report_back(
    puppet_servers: PuppetServers, certnames: Iterator[str], tmp_path: Path, sshd: SshServer
) -> None:
    require_run_as(sshd)
    node = next(certnames)
    managed = tmp_path / "managed"
    env = environment(puppet_servers, node, {"hello::dir": str(managed)})
    login = "podium-deployer"
    with sudo_user(sshd, login, Path("/bin/sh"), "root"):
        runs = Path(tempfile.mkdtemp(prefix="podium-ssh-runs-"))
        os.chown(runs, pwd.getpwnam(login).pw_uid, -1)
        ssh = config_for(sshd, user=login, tmpdir=str(runs), **{"run-as": "root"})
        ssh["agent-command"] = puppet_servers.agent_command(node)
        target = {"name": node, "config": {"transport": "ssh", "ssh": ssh}}
        try:
            async with podium(tmp_path, puppet_servers, [target]) as api:
                job, item = await deploy(api, env, node)
            left = list(runs.iterdir())
        finally:
            runs.rmdir()
    assert job["node_states"] == {"finished": 1}, item
    assert item["transport"] == "ssh"
    assert item["result"]["status"] == "changed"
    assert_report_fields(item, env)
    assert (managed / "hello.txt").stat().st_uid == 0  # the agent ran as root, not as the login
    assert left == []  # the run's directory, report included, was removed


def local(node: str) -> Json:
    return {"name": node, "config": {"transport": "local"}}


# PuppetDB: facts that real agent runs submitted, found through scopes.


@pytest.fixture(scope="module")
def fleet(puppet_servers: PuppetServers, certnames: Iterator[str]) -> dict[str, list[str]]:
    """Two agents that ran against the servers with a `podium_role` fact (web, db); their
    certnames by role, once PuppetDB holds their facts."""
    env = f"fleet_{uuid.uuid4().hex[:8]}"
    (puppet_servers.environments / env / "manifests").mkdir(parents=True)
    (puppet_servers.environments / env / "manifests" / "site.pp").write_text("node default {}\n")
    roles = {"web": [next(certnames)], "db": [next(certnames)]}
    for role, names in roles.items():
        for name in names:
            run = puppet_servers.run_agent(name, env, {"podium_role": role})
            assert run.returncode in (0, 2), run.stdout + run.stderr
    every = [name for names in roles.values() for name in names]
    puppet_servers.wait_for(["from", "facts", ["=", "name", "podium_role"]], len(every))
    return roles


def puppetdb(servers: PuppetServers) -> dict[str, Any]:
    return {
        "puppetdb_url": servers.puppetdb_url,
        "puppetdb_ca": servers.ca,
        "puppetdb_cert": servers.client_cert,
        "puppetdb_key": servers.client_key,
    }


@pytest.mark.parametrize(
    "query",
    [
        'inventory[certname] { facts.podium_role = "web" }',
        ["from", "nodes", ["=", ["fact", "podium_role"], "web"]],
    ],
)
async def test_facts_real_agents_submitted_answer_a_query_scope(
    puppet_servers: PuppetServers, fleet: dict[str, list[str]], tmp_path: Path, query: Json
) -> None:
    env = environment(puppet_servers, "unused")
    async with podium(tmp_path, puppet_servers, [], **puppetdb(puppet_servers)) as api:
        params = {"message": "hello"}
        body = {
            "task": "demo::echo",
            "environment": env,
            "params": params,
            "scope": {"query": query},
        }
        status, answer = await api.post("/command/task", body)
        assert status == 202, answer
        job = await api.wait_job(answer["job"]["name"])
        nodes = (await api.ok(f"/jobs/{job['name']}/nodes"))["items"]
    assert sorted(node["name"] for node in nodes) == sorted(fleet["web"])


AGENTS_GROUP: Final = "9d0a3a4c-6d47-4d1e-a3f5-3b1f3a7f0100"
WEB_GROUP: Final = "9d0a3a4c-6d47-4d1e-a3f5-3b1f3a7f0101"


async def test_a_node_group_is_evaluated_by_puppetdb(
    puppet_servers: PuppetServers, fleet: dict[str, list[str]], tmp_path: Path
) -> None:
    """The group's nodes are known to PuppetDB alone: without it, the same group is empty."""
    groups = tmp_path / "node_groups.yaml"
    agents = {"id": AGENTS_GROUP, "name": "Agents", "rule": ["~", "name", "^agent-"]}
    rule = ["and", ["=", ["fact", "podium_role"], "web"], ["=", ["fact", "kernel"], "Linux"]]
    web = {"id": WEB_GROUP, "name": "Web", "parent": AGENTS_GROUP, "rule": rule}
    groups.write_text(json.dumps([agents, web]))
    env = environment(puppet_servers, "unused")
    body = {"environment": env, "scope": {"node_group": WEB_GROUP}, "noop": True}
    with_puppetdb = puppetdb(puppet_servers)
    async with podium(
        tmp_path / "1", puppet_servers, [], node_groups=groups, **with_puppetdb
    ) as api:
        status, answer = await api.post("/command/deploy", body)
        assert status == 202, answer
        job = await api.wait_job(answer["job"]["name"])
        nodes = (await api.ok(f"/jobs/{job['name']}/nodes"))["items"]
    assert sorted(node["name"] for node in nodes) == sorted(fleet["web"])
    async with podium(tmp_path / "2", puppet_servers, [], node_groups=groups) as api:
        status, answer = await api.post("/command/deploy", body)
    assert (status, answer["kind"]) == (400, "puppetlabs.orchestrator/empty-target")


async def test_the_facts_shown_for_a_node_are_those_puppetdb_holds(
    puppet_servers: PuppetServers, fleet: dict[str, list[str]], tmp_path: Path
) -> None:
    (db,) = fleet["db"]
    (held,) = await asyncio.to_thread(
        puppet_servers.query, ["from", "inventory", ["=", "certname", db]]
    )
    async with podium(tmp_path, puppet_servers, [], **puppetdb(puppet_servers)) as api:
        item = await api.ok(f"/inventory/{db}")
        unknown = await api.ok("/inventory/never-ran.example.com")
    assert item["facts"] == held["facts"]
    assert item["facts"]["podium_role"] == "db"
    assert item["facts"]["kernel"] == "Linux"  # what Facter found on the agent
    assert unknown["facts"] == {}
