"""The ssh transport with `run-as`, against the real test sshd: the task runs as that user, its
and cancelling kills and cleans up. Needs root and sudo: skipped elsewhere, failed under CI."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import stat
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from libs.environments import Environments
from libs.events.model import NodeState
from podium.settings import EXAMPLES
from services.executor.transports.ssh import SshSettings, SshTransport
from tests.processes import processes_running
from tests.sshd import SshServer, config_for, require_run_as, work

Json = Any


@pytest.fixture
def run_as(sshd: SshServer) -> SshServer:
    require_run_as(sshd)
    return sshd


@pytest.fixture
async def transport(run_as: SshServer) -> AsyncIterator[SshTransport]:
    opened = SshTransport(Environments(EXAMPLES / "environments"), SshSettings(idle_s=30.0))
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A tmpdir for runs that every user can reach, as /tmp is (tmp_path is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="podium-test-", dir="/tmp"))
    path.chmod(0o1777)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def hold_environment(root: Path) -> Environments:
    """An environment whose `probe::hold` reads its input, then sleeps 907 s."""
    tasks = root / "environments" / "production" / "modules" / "probe" / "tasks"
    tasks.mkdir(parents=True)
    (tasks / "hold.sh").write_text("#!/bin/sh\ncat >/dev/null\nsleep 907\n")
    (tasks / "hold.json").write_text('{"input_method": "both"}')
    return Environments(root / "environments")


def read_as(user: str, path: Path) -> subprocess.CompletedProcess[str]:
    """`cat` a file, or `ls` a directory, as another user."""
    read = ["cat", str(path)] if path.is_file() else ["ls", str(path)]
    return subprocess.run(["sudo", "-u", user, *read], capture_output=True, text=True)


async def until_running(argv: list[str]) -> None:
    async with asyncio.timeout(20):
        while not processes_running(argv):
            await asyncio.sleep(0.05)


async def until_gone(argv: list[str]) -> None:
    async with asyncio.timeout(20):  # SIGKILL has been sent; the process ends soon after
        while processes_running(argv):
            await asyncio.sleep(0.05)


async def test_run_as_runs_the_task_as_that_user_and_cleans_up(
    transport: SshTransport, run_as: SshServer, shared_tmp: Path
) -> None:
    config = config_for(run_as, **{"run-as": "nobody", "tmpdir": str(shared_tmp)})
    outcome = await transport.run(work("n1", config, task="hostinfo"))
    assert outcome.state == NodeState.FINISHED, outcome.result
    assert outcome.result["user"] == "nobody"
    assert list(shared_tmp.iterdir()) == []


async def test_cancelling_a_run_as_run_kills_the_remote_processes(
    transport: SshTransport, run_as: SshServer, shared_tmp: Path
) -> None:
    sleeper = ["sleep", "903"]
    config = config_for(run_as, **{"run-as": "nobody", "tmpdir": str(shared_tmp)})
    run = asyncio.create_task(transport.run(work("n1", config, task="demo::slow", seconds=903)))
    await until_running(sleeper)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    await until_gone(sleeper)
    assert list(shared_tmp.iterdir()) == []


async def test_a_run_as_run_keeps_its_files_and_parameters_from_other_users(
    run_as: SshServer, shared_tmp: Path, tmp_path: Path
) -> None:
    sleeper = ["sleep", "907"]
    transport = SshTransport(hold_environment(tmp_path), SshSettings())
    config = config_for(run_as, **{"run-as": "nobody", "tmpdir": str(shared_tmp)})
    item = work("n1", config, task="probe::hold", token="hunter2-secret")
    run = asyncio.create_task(transport.run(item))
    try:
        await until_running(sleeper)
        (base,) = shared_tmp.iterdir()
        inside = sorted(base.rglob("*"))
        assert {"work", "run.sh", "input.json"} <= {path.name for path in inside}
        for path in [base, *inside]:
            tried = await asyncio.to_thread(read_as, "daemon", path)
            assert tried.returncode != 0, f"daemon can read {path}: {tried.stdout}"
            assert "Permission denied" in tried.stderr
        for secret in (base / "work" / "run.sh", base / "work" / "input.json"):
            assert stat.S_IMODE(secret.stat().st_mode) == 0o600, secret
    finally:
        run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run
        await transport.close()
    await until_gone(sleeper)
