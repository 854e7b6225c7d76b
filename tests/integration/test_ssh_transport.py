"""The ssh transport on its own, against the real test sshd: connection reuse and idle close,
login failures named with their cause, host key checking, and what it refuses (run-as has its
own module, test_ssh_run_as)."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from podium.environments import Environments
from podium.events.jobspec import RunSpec
from podium.events.model import NodeState
from podium.events.work import WorkItem
from podium.executor.transports.base import RunError
from podium.executor.transports.ssh import SshSettings, SshTransport
from podium.settings import EXAMPLES
from tests.integration.test_api_tasks import FAKE_AGENT, REPORTS
from tests.sshd import SshServer, config_for, free_port, work


@pytest.fixture
async def transport() -> AsyncIterator[SshTransport]:
    opened = SshTransport(Environments(EXAMPLES / "environments"), SshSettings(idle_s=30.0))
    try:
        yield opened
    finally:
        await opened.close()


async def test_runs_to_the_same_host_and_user_share_one_connection(
    transport: SshTransport, sshd: SshServer
) -> None:
    config = config_for(sshd)
    outcomes = await asyncio.gather(
        *(transport.run(work(f"node-{i}", config, index=i)) for i in range(3))
    )
    assert [o.state for o in outcomes] == [NodeState.FINISHED] * 3
    assert [o.result["stdin"]["index"] for o in outcomes] == [0, 1, 2]
    again = await transport.run(work("node-3", config))
    assert again.state == NodeState.FINISHED
    assert transport.pool.opened == 1


async def all_closed(transport: SshTransport) -> None:
    async with asyncio.timeout(10):
        while transport.pool.open_connections:
            await asyncio.sleep(0.01)


async def test_an_idle_connection_is_closed_and_the_next_run_opens_another(
    sshd: SshServer,
) -> None:
    settings = SshSettings(idle_s=0.01)
    transport = SshTransport(Environments(EXAMPLES / "environments"), settings)
    try:
        first = await transport.run(work("n1", config_for(sshd)))
        await all_closed(transport)
        second = await transport.run(work("n1", config_for(sshd)))
        assert (first.state, second.state) == (NodeState.FINISHED, NodeState.FINISHED)
        assert transport.pool.opened == 2
        await all_closed(transport)
        assert transport.pool.keys_held == 0  # nothing is kept for a key without connections
    finally:
        await transport.close()


async def test_hosts_that_cannot_be_reached_leave_nothing_in_the_pool(
    transport: SshTransport, sshd: SshServer
) -> None:
    for port in (free_port(), free_port()):
        with pytest.raises(RunError, match="Could not connect"):
            await transport.run(work("n1", config_for(sshd, port=port)))
    assert transport.pool.keys_held == 0


@pytest.fixture
def stranger(tmp_path: Path) -> Path:
    """A key pair the test sshd has never heard of."""
    key = tmp_path / "stranger"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
        check=True,
        capture_output=True,
    )
    return key


async def test_a_key_the_server_does_not_know_is_refused_naming_host_and_cause(
    transport: SshTransport, sshd: SshServer, stranger: Path
) -> None:
    config = config_for(sshd, **{"private-key": str(stranger)})
    with pytest.raises(RunError) as raised:
        await transport.run(work("n1", config))
    assert str(raised.value).startswith(
        f"Could not connect to {sshd.user}@{sshd.host}:{sshd.port}: Permission denied"
    )


async def test_a_host_key_that_is_not_known_is_refused_when_checking(
    transport: SshTransport, sshd: SshServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.ssh/known_hosts knows the test server
    with pytest.raises(RunError, match=r"Could not connect to .*: Host key is not trusted"):
        await transport.run(work("n1", config_for(sshd, **{"host-key-check": True})))


async def test_a_missing_key_file_is_named(transport: SshTransport, sshd: SshServer) -> None:
    config = config_for(sshd, **{"private-key": "/nonexistent/key"})
    with pytest.raises(RunError, match=r"Could not connect to .*: No such file or directory"):
        await transport.run(work("n1", config))


@pytest.mark.parametrize(
    ("report", "exit_code", "state"),
    [
        ("changed", 2, NodeState.FINISHED),
        ("failed", 4, NodeState.FAILED),
        (None, 0, NodeState.FINISHED),
    ],
)
async def test_a_deploy_runs_the_targets_agent_and_reads_its_report_back(
    transport: SshTransport,
    sshd: SshServer,
    tmp_path: Path,
    report: str | None,
    exit_code: int,
    state: NodeState,
) -> None:
    """The fake agent stands in for `puppet agent` here (test_puppet runs the real one)."""
    log = tmp_path / "agent.log"
    agent = [str(FAKE_AGENT), "--fake-log", str(log), "--fake-exit", str(exit_code)]
    if report is not None:
        agent += ["--fake-report", str(REPORTS / f"{report}.yaml")]
    runs = tmp_path / "runs"
    runs.mkdir()
    config = config_for(sshd, tmpdir=str(runs), **{"agent-command": [*agent, "--test"]})
    spec = RunSpec(kind="deploy", environment="production", noop=True)
    item = WorkItem(job="7", node="n1", attempt=1, transport="ssh", config=config, spec=spec)
    outcome = await transport.run(item)
    assert outcome.state == state
    flags = log.read_text().split()
    assert flags[:5] == ["--test", "--noop", "--environment", "production", "--job-id"]
    assert flags[5:7] == ["7", "--lastrunreport"]
    assert flags[7].startswith(f"{runs}/podium.")
    assert list(runs.iterdir()) == []  # the report was read back, and the directory removed
    if report is None:
        assert outcome.result["metrics"] is None
    else:
        assert outcome.result["metrics"]["total"] == 9
        assert outcome.result["transaction_uuid"] is not None


async def test_a_powershell_task_is_refused_with_a_clear_message(
    transport: SshTransport, sshd: SshServer
) -> None:
    with pytest.raises(RunError, match=r"input_method powershell.*Podium does not support"):
        await transport.run(work("n1", config_for(sshd), task="hostinfo::windows"))


async def test_a_run_leaves_nothing_behind_in_tmpdir(
    transport: SshTransport, sshd: SshServer, tmp_path: Path
) -> None:
    config = config_for(sshd, tmpdir=str(tmp_path))
    outcome = await transport.run(work("n1", config, task="toolkit::dir_size", path=str(tmp_path)))
    assert outcome.state == NodeState.FINISHED, outcome.result
    assert outcome.result["installdir"].startswith(f"{tmp_path}/podium.")
    assert list(tmp_path.iterdir()) == []
