"""The `local` transport: node runs on the executor's own host, as child processes.

A task's executable gets its parameters as JSON on stdin and/or as `PT_*` variables (the task's
input method), with the metaparameters `_task` and, in noop mode, `_noop`. A deploy runs the
environment's agent command with the request's flags.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Final

from libs.environments import DEFAULT_AGENT_COMMAND, Environment, Environments
from libs.environments.environments import BadEnvironment, InvalidEnvironmentName
from libs.events.work import RunSpec, WorkItem
from libs.tasks.catalog import Implementation, Task, TaskError
from libs.tasks.names import InvalidTaskName, parse_task_name
from services.executor.outcome import Outcome, deploy_outcome, task_outcome
from services.executor.process import interpreter_for, run_process
from services.executor.transports.base import RunError

Json = Any
MIB: Final = 1024 * 1024
DEPLOY_FLAGS: Final = ("noop", "no_noop", "debug", "trace", "evaltrace")


@dataclass(frozen=True, slots=True)
class LocalSettings:
    max_output_bytes: int = MIB


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
        spec = item.spec
        environment = self._environment(spec.environment)
        if environment is None:
            raise RunError(f"environment {spec.environment!r} no longer exists")
        task = _find_task(environment, spec.task)
        implementation = task.implementation(item.features)
        if implementation is None:
            raise RunError(f"No suitable implementation of {task.name.full} for {item.node}")
        params = {**spec.params, "_task": task.name.full}
        if spec.noop:
            params["_noop"] = True
        stdin, env = _task_input(implementation, params)
        result = await run_process(
            interpreter_for(implementation.path),
            stdin=stdin,
            env=env,
            cwd=implementation.path.parent,
            timeout_s=spec.timeout_s or environment.task_timeout_s,
            max_output_bytes=self._settings.max_output_bytes,
        )
        return task_outcome(item.node, task.name.full, result.stdout, result.exit_code)

    async def _deploy(self, item: WorkItem) -> Outcome:
        spec = item.spec
        environment = self._environment(spec.environment) if spec.environment else None
        command = list(environment.agent_command if environment else DEFAULT_AGENT_COMMAND)
        result = await run_process(
            command + deploy_flags(spec),
            stdin=None,
            env=_inherited_env(),
            cwd=environment.path if environment else None,
            timeout_s=spec.timeout_s,
            max_output_bytes=self._settings.max_output_bytes,
        )
        return deploy_outcome(
            item.node, result.exit_code, spec.environment, spec.noop, spec.no_noop
        )

    def _environment(self, name: str) -> Environment | None:
        try:
            return self._environments.get(name)
        except (InvalidEnvironmentName, BadEnvironment) as exc:
            raise RunError(str(exc)) from exc


def deploy_flags(spec: RunSpec) -> list[str]:
    """The agent's flags for a deploy request: `--noop`, `--no-noop`, ..., `--environment`."""
    flags = [f"--{name.replace('_', '-')}" for name in DEPLOY_FLAGS if getattr(spec, name)]
    if spec.environment:
        flags += ["--environment", spec.environment]
    return flags


def _find_task(environment: Environment, name: str) -> Task:
    try:
        task = environment.task(parse_task_name(name))
    except (InvalidTaskName, TaskError) as exc:
        raise RunError(str(exc)) from exc
    if task is None:
        raise RunError(f"task {name} no longer exists in environment {environment.name}")
    return task


def _task_input(
    implementation: Implementation, params: dict[str, Json]
) -> tuple[bytes, dict[str, str]]:
    method = implementation.input_method
    env = _inherited_env()
    if method in ("environment", "both"):
        env.update({f"PT_{key}": _env_value(value) for key, value in params.items()})
    stdin = json.dumps(params).encode() if method in ("stdin", "both") else b""
    return stdin, env


def _env_value(value: Json) -> str:
    """A string goes as it is; anything else as its JSON text (`null` for None)."""
    return value if isinstance(value, str) else json.dumps(value)


def _inherited_env() -> dict[str, str]:
    # A child inherits the executor's own environment, as any process would.
    return dict(os.environ)
