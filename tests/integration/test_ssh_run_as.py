"""The ssh transport with `run-as`, against the real test sshd: the task runs as that user, its
files stay out of other users' reach, its stdin never carries the sudo password, and cancelling
kills and cleans up. A test user whose sudo asks no password, and whose shell can linger like a
slow host, also checks that clean-up is outside the run's timeout and survives cancellation.
Needs root and sudo: skipped elsewhere, failed under CI."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import stat
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Final

import pytest

from podium.environments import Environments
from podium.events.model import NodeState
from podium.executor.transports.base import RunError
from podium.executor.transports.ssh import SshSettings, SshTransport
from podium.jsontypes import Json
from podium.settings import EXAMPLES
from tests.processes import processes_running
from tests.sshd import (
    SshServer,
    config_for,
    password_user,
    require_run_as,
    sudo_user,
    work,
)

SUDOER: Final = "podium-t"  # a login user whose sudo asks no password
PASSWORDED: Final = "podium-p"  # a login user with a password, whose sudo asks for it
PASSWORD: Final = "Correct horse 7"
LINGERING_SHELL: Final = """#!/bin/sh
# The login shell of the tests' sudo user: /bin/sh, except that a command matching the glob in
# $HOME/linger keeps its channel open 3 s after it has run, as on a slow host.
if [ "$1" = "-c" ] && [ -r "$HOME/linger" ]; then
  pattern=$(cat "$HOME/linger")
  case "$2" in
    $pattern) /bin/sh -c "$2"; status=$?; sleep 3; exit $status ;;
  esac
fi
exec /bin/sh "$@"
"""


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


@pytest.fixture(scope="module")
def sudoer(sshd: SshServer) -> Iterator[Path]:
    """SUDOER's home; its sudo to root and to nobody asks no password, and its login shell
    lingers after the commands that match the glob in `<home>/linger`."""
    require_run_as(sshd)
    bin_dir = Path(tempfile.mkdtemp(prefix="podium-test-shell-", dir="/tmp"))
    try:
        bin_dir.chmod(0o755)
        shell = bin_dir / "lingering-sh"
        shell.write_text(LINGERING_SHELL)
        shell.chmod(0o755)
        with sudo_user(sshd, SUDOER, shell, sudo_to="nobody") as home:
            yield home
    finally:
        shutil.rmtree(bin_dir, ignore_errors=True)


@contextlib.contextmanager
def lingering(home: Path, pattern: str) -> Iterator[None]:
    """While inside, the sudoer's shell lingers 3 s after each command matching `pattern`."""
    (home / "linger").write_text(pattern)
    try:
        yield
    finally:
        (home / "linger").unlink()


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


@pytest.mark.parametrize("login", ["root", SUDOER])
@pytest.mark.parametrize(
    ("task", "stdin"),
    [("demo::inputs_env", None), ("demo::inputs", {"x": 1, "_task": "demo::inputs"})],
)
async def test_under_sudo_the_task_never_reads_the_sudo_password(
    transport: SshTransport,
    sshd: SshServer,
    sudoer: Path,
    shared_tmp: Path,
    login: str,
    task: str,
    stdin: Json,
) -> None:
    settings = {"run-as": "nobody", "sudo-password": "s3cret-pw", "tmpdir": str(shared_tmp)}
    config = config_for(sshd, user=login, **settings)  # neither login's sudo asks for it
    outcome = await transport.run(work("n1", config, task=task, x=1))
    assert outcome.state == NodeState.FINISHED, outcome.result
    assert outcome.result["stdin"] == stdin
    assert list(shared_tmp.iterdir()) == []


async def test_a_slow_clean_up_does_not_time_out_a_run_that_ended_in_time(
    transport: SshTransport, sshd: SshServer, sudoer: Path, shared_tmp: Path
) -> None:
    config = config_for(sshd, user=SUDOER, tmpdir=str(shared_tmp))
    with lingering(sudoer, "rm -rf *"):  # removing the run's directory takes 3 s more
        outcome = await transport.run(work("n1", config, task="hostinfo", timeout_s=2))
    assert outcome.state == NodeState.FINISHED, outcome.result
    assert outcome.result["user"] == SUDOER
    assert list(shared_tmp.iterdir()) == []


async def test_cancelling_while_the_run_directory_is_made_leaves_nothing_behind(
    transport: SshTransport, sshd: SshServer, sudoer: Path, shared_tmp: Path
) -> None:
    config = config_for(sshd, user=SUDOER, tmpdir=str(shared_tmp))
    with lingering(sudoer, "mk*"):  # the directory exists 3 s before the command returns
        run = asyncio.create_task(transport.run(work("n1", config, task="hostinfo")))
        async with asyncio.timeout(20):
            while not any(shared_tmp.iterdir()):
                await asyncio.sleep(0.01)
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
    assert list(shared_tmp.iterdir()) == []


@pytest.mark.parametrize(("configured", "user"), [(None, "nobody"), ("nobody", "daemon")])
async def test_the_run_as_metaparameter_picks_the_user_for_that_run(
    transport: SshTransport, run_as: SshServer, shared_tmp: Path, configured: str | None, user: str
) -> None:
    config = config_for(run_as, **{"run-as": configured, "tmpdir": str(shared_tmp)})
    outcome = await transport.run(work("n1", config, task="hostinfo", _run_as=user))
    assert outcome.state == NodeState.FINISHED, outcome.result
    assert outcome.result["user"] == user


async def test_the_run_as_metaparameter_is_not_passed_to_the_task(
    transport: SshTransport, run_as: SshServer, shared_tmp: Path
) -> None:
    config = config_for(run_as, tmpdir=str(shared_tmp))
    outcome = await transport.run(work("n1", config, task="demo::inputs", x=1, _run_as="nobody"))
    assert outcome.state == NodeState.FINISHED, outcome.result
    assert outcome.result["stdin"] == {"x": 1, "_task": "demo::inputs"}
    assert "PT__run_as" not in outcome.result["environment"]


@pytest.fixture(scope="module")
def passworded(sshd: SshServer) -> Iterator[None]:
    require_run_as(sshd)
    with password_user(PASSWORDED, PASSWORD, sudo_to="nobody"):
        yield


def password_config(sshd: SshServer, password: str, **extra: Json) -> dict[str, Json]:
    """Log in as PASSWORDED with a password: no key at all."""
    config = config_for(sshd, user=PASSWORDED, password=password, **extra)
    del config["private-key"]
    return config


async def test_a_password_login_runs_the_task(
    transport: SshTransport, sshd: SshServer, passworded: None
) -> None:
    outcome = await transport.run(work("n1", password_config(sshd, PASSWORD), task="hostinfo"))
    assert outcome.state == NodeState.FINISHED, outcome.result
    assert outcome.result["user"] == PASSWORDED


async def test_a_wrong_password_is_refused_naming_the_host_and_the_cause(
    transport: SshTransport, sshd: SshServer, passworded: None
) -> None:
    with pytest.raises(RunError) as raised:  # the executor ends the node errored with it
        await transport.run(work("n1", password_config(sshd, "wrong"), task="hostinfo"))
    message = str(raised.value)
    assert message.startswith(f"Could not connect to {PASSWORDED}@{sshd.host}:{sshd.port}: ")
    assert "Permission denied" in message
    assert raised.value.reached is False


async def test_run_as_with_a_sudo_password_runs_the_task_as_that_user(
    transport: SshTransport, sshd: SshServer, passworded: None, shared_tmp: Path
) -> None:
    config = password_config(
        sshd, PASSWORD, **{"run-as": "nobody", "sudo-password": PASSWORD, "tmpdir": str(shared_tmp)}
    )
    outcome = await transport.run(work("n1", config, task="hostinfo"))
    assert outcome.state == NodeState.FINISHED, outcome.result
    assert outcome.result["user"] == "nobody"
    assert list(shared_tmp.iterdir()) == []


async def test_a_wrong_sudo_password_ends_errored_saying_sudo_failed(
    transport: SshTransport, sshd: SshServer, passworded: None, shared_tmp: Path
) -> None:
    config = password_config(
        sshd, PASSWORD, **{"run-as": "nobody", "sudo-password": "wrong", "tmpdir": str(shared_tmp)}
    )
    with pytest.raises(RunError) as raised:  # the executor ends the node errored with it
        await transport.run(work("n1", config, task="hostinfo"))
    assert str(raised.value).startswith(f"sudo on {PASSWORDED}@{sshd.host}:{sshd.port} failed")
    assert "incorrect password" in str(raised.value)
    assert raised.value.reached is True
    assert list(shared_tmp.iterdir()) == []
