"""The `ssh` transport: task runs on remote hosts over SSH (asyncssh), as Bolt runs them, and
deploys (Puppet agent runs, their reports read back over the same connection).

This module turns a work item into a target and a prepared run, connects (sharing connections
through `SshPool`), and turns the remote result into an outcome; `ssh_remote` (tasks) and
`ssh_deploy` (deploys) own what a run does on the target.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import asyncssh

from podium.environments import Environments
from podium.events.endings import Outcome
from podium.events.work import WorkItem
from podium.executor.deploy import agent_argv, agent_error, deploy_outcome
from podium.executor.outcome import task_outcome
from podium.executor.report import read_report
from podium.executor.settings import DEFAULT_MAX_OUTPUT_BYTES
from podium.executor.taskrun import (
    environment_for,
    log_stderr,
    prepare_task,
)
from podium.executor.transports.base import RunError
from podium.executor.transports.ssh_deploy import RemoteDeploy
from podium.executor.transports.ssh_pool import SshPool
from podium.executor.transports.ssh_remote import RemoteResult, RemoteTask
from podium.executor.transports.ssh_target import SshTarget, ssh_target

T = TypeVar("T")
DeployResult = tuple[RemoteResult, bytes | None, str | None]


@dataclass(frozen=True, slots=True)
class SshSettings:
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES
    idle_s: float = 30.0  # an unused connection is closed after this long
    cleanup_timeout_s: float = 10.0  # bound on killing and removing after a run


class SshTransport:
    def __init__(self, environments: Environments, settings: SshSettings) -> None:
        self._environments = environments
        self._settings = settings
        self.pool = SshPool(settings.idle_s)

    async def run(self, item: WorkItem) -> Outcome:
        target = ssh_target(item.config, item.node)
        if item.spec.kind == "deploy":
            return await self._deploy(item, target)
        run = prepare_task(environment_for(self._environments, item.spec.environment), item)
        if run.run_as is not None:  # `_run_as` wins over the target's `run-as` for this run
            target = replace(target, run_as=run.run_as)

        async def task(conn: asyncssh.SSHClientConnection) -> RemoteResult:
            remote = RemoteTask(
                conn,
                target,
                run,
                max_output_bytes=self._settings.max_output_bytes,
                cleanup_timeout_s=self._settings.cleanup_timeout_s,
            )
            return await remote.execute(item.node)

        result = await self._on(target, task)
        log_stderr(result.stderr)
        return task_outcome(
            item.node, run.task, result.stdout, result.exit_code, truncated=result.truncated
        )

    async def _deploy(self, item: WorkItem, target: SshTarget) -> Outcome:
        def argv(report_path: str) -> list[str]:
            return agent_argv(target.agent_command, item.spec, item.job, report_path)

        async def deploy(conn: asyncssh.SSHClientConnection) -> DeployResult:
            remote = RemoteDeploy(
                conn,
                target,
                argv,
                item.spec.timeout_s,
                max_output_bytes=self._settings.max_output_bytes,
                cleanup_timeout_s=self._settings.cleanup_timeout_s,
            )
            return await remote.execute(item.node)

        result, data, note = await self._on(target, deploy)
        log_stderr(result.stderr)
        report, unread = await asyncio.to_thread(read_report, data)
        note = note or unread or agent_error(result.stdout + result.stderr)
        return deploy_outcome(item.node, result.exit_code, item.spec, report, note)

    async def _on(
        self, target: SshTarget, work: Callable[[asyncssh.SSHClientConnection], Awaitable[T]]
    ) -> T:
        """`work` over a pooled connection to the target; its failures say the host was
        reached (a connection failure says it was not)."""
        try:
            async with self.pool.connection(target.pool_key, lambda: connect(target)) as conn:
                return await work(conn)
        except RunError as exc:
            if exc.reached is None:  # failed on the node, after the connection was made
                exc.reached = True
            raise
        except (asyncssh.Error, OSError) as exc:
            raise RunError(
                f"SSH to {target.address} failed during the run: {exc}", reached=True
            ) from exc

    async def close(self) -> None:
        await self.pool.close()


async def connect(target: SshTarget) -> asyncssh.SSHClientConnection:
    """Raises RunError naming the host and the cause."""
    options: dict[str, Any] = {
        "port": target.port,
        "known_hosts": () if target.host_key_check else None,
        "connect_timeout": target.connect_timeout_s,
    }
    if target.user:
        options["username"] = target.user
    if target.password:
        options["password"] = target.password
    try:
        if target.private_key is not None:
            options["client_keys"] = [asyncssh.read_private_key(target.private_key)]
        elif target.key_data is not None:
            options["client_keys"] = [asyncssh.import_private_key(target.key_data)]
        return await asyncssh.connect(target.host, **options)
    except (asyncssh.Error, OSError, TimeoutError, ValueError) as exc:
        raise RunError(
            f"Could not connect to {target.address}: {_cause(exc, target)}", reached=False
        ) from exc


def _cause(exc: Exception, target: SshTarget) -> str:
    """The reason in words: `Connection refused`, not `[Errno 111] Connect call failed`."""
    if isinstance(exc, TimeoutError):
        return f"no answer within {target.connect_timeout_s:g} seconds"
    if isinstance(exc, asyncssh.Error):
        return exc.reason
    if isinstance(exc, OSError) and exc.errno:  # asyncio words it "Connect call failed (...)"
        return os.strerror(exc.errno)
    return str(exc) or type(exc).__name__
