"""The `local` transport: node runs on the executor's own host, as child processes.

A task runs in place from its module, or, when it has support `files`, from a temporary install
tree (`<installdir>/<module>/tasks/<file>`, `<installdir>/<module>/files/...`) that is removed
afterwards. A deploy runs the environment's agent command with the request's flags, in a
temporary directory of its own where the agent writes its last run report, read back and removed.

A run does not inherit the executor's environment (which may hold the broker's credentials): it
gets `LocalSettings.base_env`, the few variables of `BASE_ENV_NAMES` the CLI took at start-up,
plus a task's `PT_*` variables.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from podium.environments import DEFAULT_AGENT_COMMAND, Environments
from podium.events.endings import Outcome
from podium.events.work import WorkItem
from podium.executor.deploy import REPORT_FILE, agent_argv, agent_error, deploy_outcome
from podium.executor.outcome import task_outcome
from podium.executor.process import interpreter_for, run_process
from podium.executor.report import MAX_REPORT_BYTES, RunReport, read_report
from podium.executor.settings import DEFAULT_MAX_OUTPUT_BYTES, Environ
from podium.executor.taskrun import (
    TaskRun,
    environment_for,
    install_path,
    log_stderr,
    prepare_task,
    task_input,
)
from podium.executor.transports.base import RunError


@dataclass(frozen=True, slots=True)
class LocalSettings:
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES
    base_env: Environ = ()  # every run's environment, before its PT_* variables


class LocalTransport:
    def __init__(self, environments: Environments, settings: LocalSettings) -> None:
        self._environments = environments
        self._settings = settings

    async def run(self, item: WorkItem) -> Outcome:
        if item.spec.kind == "deploy":
            return await self._deploy(item)
        return await self._task(item)

    async def close(self) -> None:
        return None

    async def _task(self, item: WorkItem) -> Outcome:
        run = prepare_task(environment_for(self._environments, item.spec.environment), item)
        if run.run_as is not None:
            raise RunError(
                f"The local transport cannot run {run.task} as another user (_run_as {run.run_as})"
            )
        with _installed(run) as (executable, installdir):
            stdin, env = task_input(run.input_method, run.params_for(installdir))
            try:
                async with asyncio.timeout(run.timeout_s):
                    result = await run_process(
                        interpreter_for(executable),
                        stdin=stdin,
                        env={**dict(self._settings.base_env), **env},
                        cwd=executable.parent,
                        timeout_s=None,
                        max_output_bytes=self._settings.max_output_bytes,
                    )
            except TimeoutError:
                raise RunError(run.timed_out(item.node)) from None
        log_stderr(result.stderr)
        return task_outcome(
            item.node, run.task, result.stdout, result.exit_code, truncated=result.truncated
        )

    async def _deploy(self, item: WorkItem) -> Outcome:
        spec = item.spec
        environment = (
            environment_for(self._environments, spec.environment) if spec.environment else None
        )
        command = environment.agent_command if environment else DEFAULT_AGENT_COMMAND
        with tempfile.TemporaryDirectory(prefix="podium-deploy-") as run_dir:
            report_path = Path(run_dir) / REPORT_FILE
            result = await run_process(
                agent_argv(command, spec, item.job, str(report_path)),
                stdin=None,
                env=dict(self._settings.base_env),
                cwd=environment.path if environment else None,
                timeout_s=spec.timeout_s,
                max_output_bytes=self._settings.max_output_bytes,
            )
            report, note = await asyncio.to_thread(_read_report, report_path)
        log_stderr(result.stderr)
        note = note or agent_error(result.stdout + result.stderr)
        return deploy_outcome(item.node, result.exit_code, spec, report, note)


def _read_report(path: Path) -> tuple[RunReport | None, str | None]:
    """The run's report, or why there is none."""
    try:
        with path.open("rb") as file:
            return read_report(file.read(MAX_REPORT_BYTES + 1))
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        return None, f"its run report could not be read: {exc.strerror or exc}"


@contextmanager
def _installed(run: TaskRun) -> Iterator[tuple[Path, str | None]]:
    """The executable to run and the install dir: in place when the task has no support files,
    else a temporary copy of the tree, removed on the way out (a cancelled run included)."""
    if not run.files:
        yield run.executable.source, None
        return
    root = tempfile.mkdtemp(prefix="podium-task-")
    try:
        _copy_tree(run, root)
        yield Path(install_path(root, run.executable)), root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _copy_tree(run: TaskRun, root: str) -> None:
    try:
        for task_file in run.tree:
            target = Path(install_path(root, task_file))
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(task_file.source, target)
            shutil.copymode(task_file.source, target)
    except OSError as exc:
        raise RunError(f"cannot install the files of {run.task}: {exc}") from exc
