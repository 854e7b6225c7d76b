"""What every transport does the same way for a task run: find the task and the implementation
the target can run, build the metaparameters, and turn parameters into stdin and `PT_*`
variables. Transports only move files and bytes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Final

import structlog

from podium.environments import Environment, Environments
from podium.environments.environments import BadEnvironment, InvalidEnvironmentName
from podium.events.work import WorkItem
from podium.executor.transports.base import RunError
from podium.jsontypes import Json
from podium.tasks.catalog import Task, TaskError
from podium.tasks.files import TaskFile, executable_file
from podium.tasks.names import InvalidTaskName, parse_task_name
from podium.tasks.params import RUN_AS

log = structlog.get_logger(__name__)
INPUT_METHODS: Final = frozenset({"stdin", "environment", "both"})
STDERR_LOGGED_BYTES: Final = 4096


@dataclass(frozen=True, slots=True)
class TaskRun:
    """One task run on one node, ready for a transport."""

    task: str  # the full name, `_task`
    executable: TaskFile  # installed at `<installdir>/<module>/tasks/<file>`
    files: tuple[TaskFile, ...]  # support files; when there are any, the task gets `_installdir`
    input_method: str  # stdin, environment or both
    params: dict[str, Json]  # the job's parameters and `_task`/`_noop`
    timeout_s: float | None
    run_as: str | None = None  # `_run_as`: the user this run runs as, over the target's own

    @property
    def tree(self) -> tuple[TaskFile, ...]:
        """Everything to copy into an install tree: the executable, then the support files."""
        return (self.executable, *self.files)

    def timed_out(self, node: str) -> str:
        """The message of a run that went past its timeout."""
        return f"The task {self.task} timed out on {node} after {self.timeout_s:g} seconds"

    def params_for(self, installdir: str | None) -> dict[str, Json]:
        if installdir is None:
            return self.params
        return {**self.params, "_installdir": installdir}


def environment_for(environments: Environments, name: str) -> Environment:
    """Raises RunError when the environment is gone or broken."""
    try:
        environment = environments.get(name)
    except (InvalidEnvironmentName, BadEnvironment) as exc:
        raise RunError(str(exc)) from exc
    if environment is None:
        raise RunError(f"environment {name!r} no longer exists")
    return environment


def prepare_task(environment: Environment, item: WorkItem) -> TaskRun:
    """Raises RunError for a task that is gone, broken, or has nothing this target can run."""
    spec = item.spec
    task = _find_task(environment, spec.task)
    implementation = task.implementation(item.features)
    if implementation is None:
        raise RunError(f"No suitable implementation of {task.name.full} for {item.node}")
    method = implementation.input_method
    if method == "powershell":
        raise RunError(
            f"Task {task.name.full} takes its parameters as PowerShell arguments "
            "(input_method powershell), which Podium does not support"
        )
    if method not in INPUT_METHODS:
        raise RunError(f"Task {task.name.full} has an unknown input_method {method!r}")
    try:
        files = task.install_files(implementation)
    except TaskError as exc:
        raise RunError(str(exc)) from exc
    run_as = spec.params.get(RUN_AS)
    if run_as is not None and not (isinstance(run_as, str) and run_as):
        raise RunError(f"{RUN_AS} must be a user name, not {run_as!r}")
    # The runner takes `_run_as` for itself, as Bolt does: the task does not receive it.
    params = {key: value for key, value in spec.params.items() if key != RUN_AS}
    params["_task"] = task.name.full
    if spec.noop:
        params["_noop"] = True
    return TaskRun(
        task=task.name.full,
        executable=executable_file(task.name.module, implementation.path),
        files=tuple(files),
        input_method=method,
        params=params,
        timeout_s=spec.timeout_s or environment.task_timeout_s,
        run_as=run_as,
    )


def _find_task(environment: Environment, name: str) -> Task:
    try:
        task = environment.task(parse_task_name(name))
    except (InvalidTaskName, TaskError) as exc:
        raise RunError(str(exc)) from exc
    if task is None:
        raise RunError(f"task {name} no longer exists in environment {environment.name}")
    return task


def task_input(method: str, params: Mapping[str, Json]) -> tuple[bytes | None, dict[str, str]]:
    """Stdin (None: the task gets none) and `PT_*` variables, as the input method says: a string
    goes as it is, anything else as its JSON text. Raises RunError for a value no environment
    variable can hold."""
    env: dict[str, str] = {}
    if method in ("environment", "both"):
        for key, value in params.items():
            text = value if isinstance(value, str) else json.dumps(value)
            if "\0" in text or "=" in key or "\0" in key:
                raise RunError(f"parameter {key} cannot be passed in an environment variable")
            env[f"PT_{key}"] = text
    stdin = json.dumps(params).encode() if method in ("stdin", "both") else None
    return stdin, env


def install_path(root: str, task_file: TaskFile) -> str:
    return str(PurePosixPath(root, task_file.install_path))


def log_stderr(stderr: bytes) -> None:
    """Stderr is not part of a task's result (task specification); it goes to the log."""
    if stderr:
        shown = stderr[:STDERR_LOGGED_BYTES].decode("utf-8", "replace")
        log.info("task stderr", stderr=shown, stderr_bytes=len(stderr))
