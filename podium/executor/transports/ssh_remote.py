"""One task run on a target, over one SSH connection: make the run's directory
(`<tmpdir>/podium.<random>`), upload the task and its files over SFTP in the install-tree layout,
run it, kill it if cancelled, and remove the directory. The run's timeout covers running the
task; killing and removing run to their end (within a bound) even when the run is cancelled.

Parameters travel in an uploaded wrapper script (`PT_*` variables) and on stdin, never on a
command line that `ps` would show. The task's shell records its process id, which is also its
process group (sshd starts every session in a new one), so a cancelled or timed-out run kills
everything it started. With `run-as`, the run goes through `sudo -S -u <user>`; the task's own
input then comes from an uploaded file (or /dev/null when it takes none), so that the session's
stdin carries only the sudo password, which the task never sees even when sudo does not ask.

The parameters are secrets to other users of the target: everything Podium makes there is
created private (directories 0700, the wrapper and the input 0600, before anything is written),
and with `run-as` the work directory is handed to that user with `chown`; the run's own
directory is then 0711, so the user can reach the work directory inside it and no one can list
it.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import shlex
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Final, TypeVar

import asyncssh
import structlog

from podium.executor.process import read_capped
from podium.executor.taskrun import TaskRun, install_path, task_input
from podium.executor.transports.base import RunError
from podium.executor.transports.ssh_target import SshTarget

log = structlog.get_logger(__name__)
_IDENTIFIER: Final = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*\Z")
_q = shlex.quote
PRIVATE_DIR: Final = asyncssh.SFTPAttrs(permissions=0o700)
PRIVATE_FILE: Final = asyncssh.SFTPAttrs(permissions=0o600)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RemoteResult:
    exit_code: int
    stdout: bytes
    stderr: bytes
    truncated: bool


class RemoteRun:
    """One run over one connection, in a directory of its own: made first, removed last (its
    work directory through sudo when the run is another user's), whatever becomes of the run.
    Subclasses say what happens inside."""

    def __init__(
        self,
        conn: asyncssh.SSHClientConnection,
        target: SshTarget,
        *,
        max_output_bytes: int,
        cleanup_timeout_s: float,
    ) -> None:
        self._conn, self._target = conn, target
        self._max_output_bytes, self._cleanup_timeout_s = max_output_bytes, cleanup_timeout_s
        self._sudo = target.run_as is not None and target.run_as != target.user

    async def _in_run_directory(self, work: Callable[[str], Awaitable[T]]) -> T:
        """`work(base)` inside a new `<tmpdir>/podium.<random>`, removed afterwards."""
        base = str(PurePosixPath(self._target.tmpdir, f"podium.{secrets.token_hex(8)}"))
        try:
            await self._mkdir(base)
        except RunError:
            raise  # mkdir refused: nothing of ours is there
        except BaseException:  # cancelled or cut off while mkdir ran: the directory may exist
            await self._cleanup("remove", self._remove(base))
            raise
        try:
            return await work(base)
        finally:
            await self._cleanup("remove", self._remove(base))

    async def _mkdir(self, base: str) -> None:
        """The run's directory, named here (not by `mktemp`) so that a run cancelled while the
        command is under way still knows what to remove."""
        done = await self._conn.run(f"mkdir -m 700 -- {_q(base)}", check=False)
        if done.exit_status != 0:
            raise RunError(
                f"cannot make a temporary directory on {self._target.address} under "
                f"{self._target.tmpdir}: {str(done.stderr or '').strip()}"
            )

    async def _hand_over(self, work: str, base: str) -> None:
        """With run-as, the work directory becomes the run's user's; the run directory lets it
        reach its work directory inside, and no one list it."""
        await self._sudo_run(
            f"chown -R {_q(str(self._target.run_as))} {_q(work)} && chmod 711 {_q(base)}",
            as_root=True,
            what="hand the run's files to the run-as user",
        )

    async def _execute(self, base: str, command: str, stdin: bytes) -> RemoteResult:
        """Run `command` (through sudo with run-as) in its own process group, whose id goes to
        `<base>/pid` so that a cancelled run can be killed whole."""
        if self._sudo:
            command = f"{self._sudo_prefix()} {command}"
        command = f"umask 077 && echo $$ > {_q(base + '/pid')} && exec {command}"
        process = await self._conn.create_process(command, encoding=None)
        try:
            return await self._communicate(process, stdin)
        except BaseException:
            await self._cleanup("kill", self._kill(base))
            process.close()
            raise

    async def _communicate(
        self, process: asyncssh.SSHClientProcess[bytes], stdin: bytes
    ) -> RemoteResult:
        async def feed() -> None:
            if stdin:
                process.stdin.write(stdin)
                await process.stdin.drain()
            process.stdin.write_eof()

        cap = self._max_output_bytes
        _, (stdout, truncated), (stderr, _) = await asyncio.gather(
            feed(), read_capped(process.stdout, cap), read_capped(process.stderr, cap)
        )
        await process.wait_closed()
        if process.returncode is None:
            raise RunError(f"the connection to {self._target.address} closed during the run")
        return RemoteResult(process.returncode, stdout, stderr, truncated)

    async def _kill(self, base: str) -> None:
        pid = _q(base + "/pid")
        # The shell may not have written its pid yet when the run is cancelled right away.
        wait = f"for i in 1 2 3 4 5 6 7 8 9 10; do [ -s {pid} ] && break; sleep 0.1; done; "
        group = f"{wait}pg=$(cat {pid}) || exit 0; "
        kill = 'kill -KILL -- "-$pg" 2>/dev/null'
        command = group + kill
        if self._sudo:  # the shell's own `kill`: a host may have no kill binary
            as_user = f'{self._sudo_prefix()} sh -c \'kill -KILL -- "-$1"\' sh "$pg"'
            command = f"{group}{as_user} 2>/dev/null; {kill}"
        await self._conn.run(command, input=self._password_line().decode(), check=False)

    async def _remove(self, base: str) -> None:
        command = f"rm -rf {_q(base)}"
        if self._sudo:
            command = f"{self._sudo_prefix()} rm -rf {_q(base + '/work')}; {command}"
        await self._conn.run(command, input=self._password_line().decode(), check=False)

    async def _sudo_run(self, command: str, *, as_root: bool, what: str) -> None:
        prefix = "sudo -S -p '' --" if as_root else self._sudo_prefix()
        done = await self._conn.run(
            f"{prefix} sh -c {_q(command)}", input=self._password_line().decode(), check=False
        )
        if done.exit_status != 0:
            error = str(done.stderr or "").strip()
            raise RunError(f"sudo on {self._target.address} failed to {what}: {error}")

    def _sudo_prefix(self) -> str:
        return f"sudo -S -H -p '' -u {_q(str(self._target.run_as))} --"

    def _password_line(self) -> bytes:
        password = self._target.sudo_password
        return f"{password}\n".encode() if (self._sudo and password) else b""

    async def _cleanup(self, what: str, work: Coroutine[Any, Any, None]) -> None:
        """Runs `work` to its end within cleanup_timeout_s, even if the run is cancelled (again)
        meanwhile; a cancellation is passed on afterwards. A failure is logged, since the run's
        own outcome matters more."""
        done = asyncio.ensure_future(self._bounded(what, work))
        cancelled = False
        while not done.done():
            try:
                await asyncio.shield(done)
            except asyncio.CancelledError:
                cancelled = True
        if cancelled:
            raise asyncio.CancelledError

    async def _bounded(self, what: str, work: Coroutine[Any, Any, None]) -> None:
        try:
            async with asyncio.timeout(self._cleanup_timeout_s):
                await work
        except (asyncssh.Error, OSError, TimeoutError) as exc:
            log.warning("ssh clean-up failed", step=what, host=self._target.address, error=str(exc))


class RemoteTask(RemoteRun):
    """A task run: upload the task and its files, run it, remove everything."""

    def __init__(
        self,
        conn: asyncssh.SSHClientConnection,
        target: SshTarget,
        run: TaskRun,
        *,
        max_output_bytes: int,
        cleanup_timeout_s: float,
    ) -> None:
        super().__init__(
            conn, target, max_output_bytes=max_output_bytes, cleanup_timeout_s=cleanup_timeout_s
        )
        self._run = run

    async def execute(self, node: str) -> RemoteResult:
        """Raises RunError. The run's timeout covers running the task, not making its directory,
        the upload or the clean-up; the clean-up happens whatever becomes of the run."""

        async def work(base: str) -> RemoteResult:
            stdin = await self._upload(base)
            try:
                async with asyncio.timeout(self._run.timeout_s):
                    return await self._execute(base, f"/bin/sh {_q(base + '/work/run.sh')}", stdin)
            except TimeoutError:
                raise RunError(self._run.timed_out(node)) from None

        return await self._in_run_directory(work)

    async def _upload(self, base: str) -> bytes:
        """Upload everything; return what the run's stdin carries."""
        work, tree = f"{base}/work", f"{base}/work/tree"
        installdir = tree if self._run.files else None
        stdin, env = task_input(self._run.input_method, self._run.params_for(installdir))
        executable = install_path(tree, self._run.executable)
        async with self._conn.start_sftp_client() as sftp:
            await sftp.mkdir(work, PRIVATE_DIR)
            for task_file in self._run.tree:
                remote = install_path(tree, task_file)
                await sftp.makedirs(str(PurePosixPath(remote).parent), PRIVATE_DIR, exist_ok=True)
                await sftp.put(str(task_file.source), remote, preserve=True)
            await sftp.chmod(executable, 0o700)
            own_stdin = None
            if self._sudo:  # stdin carries the password line, which sudo may leave unread
                own_stdin = f"{work}/input.json" if stdin is not None else "/dev/null"
                if stdin is not None:
                    await _write(sftp, own_stdin, stdin)
            await _write(sftp, f"{work}/run.sh", wrapper(executable, env, own_stdin))
        if self._sudo:
            await self._hand_over(work, base)
            return self._password_line()
        return stdin or b""


def wrapper(executable: str, env: dict[str, str], stdin_from: str | None) -> bytes:
    """The script that runs the task: its variables exported, in its own directory, its stdin
    from a file (the input, or /dev/null) when the session's stdin belongs to sudo."""
    lines = ["#!/bin/sh"]
    odd: list[str] = []
    for name, value in env.items():
        if _IDENTIFIER.match(name):
            lines.append(f"{name}={_q(value)}; export {name}")
        else:  # not a shell name: `env` can still set it
            odd.append(_q(f"{name}={value}"))
    lines.append(f"cd {_q(str(PurePosixPath(executable).parent))} || exit 125")
    command = f"exec {'env ' + ' '.join(odd) + ' ' if odd else ''}{_q(executable)}"
    if stdin_from is not None:
        command += f" < {_q(stdin_from)}"
    lines.append(command)
    return ("\n".join(lines) + "\n").encode()


async def _write(sftp: asyncssh.SFTPClient, path: str, data: bytes) -> None:
    """A new file that only its owner can read, from its creation on: it may hold secrets."""
    async with sftp.open(path, "wb", PRIVATE_FILE) as file:
        await file.write(data)
