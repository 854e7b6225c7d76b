"""A deploy run on a target, over one SSH connection: the agent runs in the run's directory
(`<tmpdir>/podium.<random>`, as for tasks), writes its last run report there, and the report is
read back over the same connection before the directory is removed.

The agent command is the target's `agent-command` (`puppet agent --test --detailed-exitcodes` by
default) with the run's flags. With `run-as`, the agent runs through sudo as that user, its
stdin from /dev/null so that the session's stdin carries only the sudo password, and the report
(written private to that user) is read through sudo too.
"""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Callable
from typing import Final

import asyncssh

from podium.executor.deploy import REPORT_FILE
from podium.executor.process import read_capped
from podium.executor.report import MAX_REPORT_BYTES
from podium.executor.transports.base import RunError
from podium.executor.transports.ssh_remote import RemoteResult, RemoteRun
from podium.executor.transports.ssh_target import SshTarget

_q = shlex.quote
_NO_STDIN: Final = _q('exec "$@" < /dev/null')


class RemoteDeploy(RemoteRun):
    """`argv(report_path)`: the agent's command line, writing its report to that path."""

    def __init__(
        self,
        conn: asyncssh.SSHClientConnection,
        target: SshTarget,
        argv: Callable[[str], list[str]],
        timeout_s: float | None,
        *,
        max_output_bytes: int,
        cleanup_timeout_s: float,
    ) -> None:
        super().__init__(
            conn, target, max_output_bytes=max_output_bytes, cleanup_timeout_s=cleanup_timeout_s
        )
        self._argv, self._timeout_s = argv, timeout_s

    async def execute(self, node: str) -> tuple[RemoteResult, bytes | None, str | None]:
        """The agent's exit code and output, its report (None when it left none) and why the
        report could not be read. Raises RunError."""

        async def work(base: str) -> tuple[RemoteResult, bytes | None, str | None]:
            work_dir = f"{base}/work"
            await self._make_work_directory(work_dir, base)
            report = f"{work_dir}/{REPORT_FILE}"
            command = " ".join(_q(arg) for arg in self._argv(report))
            if self._sudo:  # the session's stdin is sudo's
                command = f"sh -c {_NO_STDIN} sh {command}"
            try:
                async with asyncio.timeout(self._timeout_s):
                    result = await self._execute(base, command, self._password_line())
            except TimeoutError:
                raise RunError(
                    f"The Puppet agent run on {node} timed out after {self._timeout_s:g} seconds"
                ) from None
            data, note = await self._read_report(report)
            return result, data, note

        return await self._in_run_directory(work)

    async def _make_work_directory(self, work_dir: str, base: str) -> None:
        done = await self._conn.run(f"mkdir -m 700 -- {_q(work_dir)}", check=False)
        if done.exit_status != 0:
            raise RunError(
                f"cannot make the run's directory on {self._target.address}: "
                f"{str(done.stderr or '').strip()}"
            )
        if self._sudo:
            await self._hand_over(work_dir, base)

    async def _read_report(self, path: str) -> tuple[bytes | None, str | None]:
        """The report's bytes (at most one more than MAX_REPORT_BYTES), None when there is
        none, and why it could not be read."""
        command = f"test -e {_q(path)} || exit 3; exec cat -- {_q(path)}"
        if self._sudo:
            command = f"{self._sudo_prefix()} sh -c {_q(command)}"
        process = await self._conn.create_process(command, encoding=None)
        process.stdin.write(self._password_line())
        process.stdin.write_eof()
        (data, _), (error, _) = await asyncio.gather(
            read_capped(process.stdout, MAX_REPORT_BYTES + 1), read_capped(process.stderr, 4096)
        )
        await process.wait_closed()
        if process.returncode == 3:
            return None, None
        if process.returncode != 0:
            why = error.decode("utf-8", errors="replace").strip() or f"exit {process.returncode}"
            return None, f"its run report could not be read: {why}"
        return data, None
