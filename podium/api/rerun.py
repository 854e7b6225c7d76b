"""POST /command/rerun: an earlier job's command again, as a new command over a node list.

The new job is made exactly as `/command/deploy` or `/command/task` would make it from the same
options with a `nodes` scope: the environment and the task are looked up again, the parameters
checked again, the user's permissions checked as for any command. Only the choice of nodes and
the origin (`rerun_of`) are the re-run's own.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final, assert_never

import msgspec
from aiohttp import web

from podium.api.bodies import DeployCommand, RerunCommand, Scope, TaskCommand, parse_body
from podium.api.commands import create_job, prepare_deploy, prepare_task
from podium.api.errors import EmptyTarget, ValidationError
from podium.api.jobs import visible_job
from podium.api.keys import JOBS, PROJECTOR, USER
from podium.events.jobspec import DeployJob, JobOrigin, JobSpec, TaskJob
from podium.events.model import Component, NodeState
from podium.events.state import Job

FAILED: Final = frozenset({NodeState.FAILED, NodeState.ERRORED})
SHOWN_NODES: Final = 10


async def rerun(request: web.Request) -> web.Response:
    """POST /command/rerun"""
    command = parse_body(RerunCommand, await request.read())
    user = request[USER]
    state, reader = request.app[PROJECTOR].state, request.app[JOBS]
    job = await visible_job(reader, state, user, command.job_name, nodes=True)
    nodes = rerun_nodes(job, command.nodes)
    description = job.spec.description if command.description is None else command.description
    again = command_again(job.spec, nodes, description)
    spec: JobSpec
    if isinstance(again, DeployCommand):
        spec, planned = await prepare_deploy(request.app, user, again)
        components = rerun_components(job, nodes)
        if components is not None:
            planned = replace(planned, components=components)
    else:
        spec, planned = await prepare_task(request.app, user, again)
    spec = msgspec.structs.replace(spec, origin=JobOrigin(rerun_of=job.name))
    return await create_job(request, spec, planned)


def command_again(
    spec: JobSpec, nodes: list[str], description: str | None
) -> DeployCommand | TaskCommand:
    """The command that asks for what `spec` ran, over `nodes`. Built without validating
    again: every value came through a command's validation once already."""
    scope = Scope.model_construct(nodes=nodes)
    match spec:
        case DeployJob():
            return DeployCommand.model_construct(
                environment=spec.environment,
                scope=scope,
                target=None,
                description=description,
                noop=spec.noop,
                no_noop=spec.no_noop,
                concurrency=spec.concurrency,
                enforce_environment=spec.enforce_environment,
                debug=spec.debug,
                trace=spec.trace,
                evaltrace=spec.evaltrace,
                userdata=spec.userdata or None,
            )
        case TaskJob():
            return TaskCommand.model_construct(
                environment=spec.environment,
                scope=scope,
                task=spec.task,
                params=spec.params,
                description=description,
                noop=spec.noop,
                concurrency=spec.concurrency,
                timeout=spec.timeout_s,
                userdata=spec.userdata or None,
            )
        case _:
            assert_never(spec)


def rerun_nodes(job: Job, wanted: str | list[str]) -> list[str]:
    """The nodes to run again, in the job's order. Raises EmptyTarget when `failed` finds none,
    ValidationError naming the nodes of a list that are not the job's."""
    if wanted == "all":
        return list(job.nodes)
    if wanted == "failed":
        nodes = [name for name, run in job.nodes.items() if run.state in FAILED]
        if not nodes:
            raise EmptyTarget(f"Job {job.name} has no node that failed or errored", job=job.name)
        return nodes
    named = dict.fromkeys(wanted)
    strangers = [node for node in named if node not in job.nodes]
    if strangers:
        shown = ", ".join(strangers[:SHOWN_NODES])
        more = f" and {len(strangers) - SHOWN_NODES} more" if len(strangers) > SHOWN_NODES else ""
        raise ValidationError(
            f"Job {job.name} did not run on {shown}{more}", job=job.name, nodes=strangers
        )
    return [node for node in job.nodes if node in named]


def rerun_components(job: Job, nodes: list[str]) -> list[Component] | None:
    """An application deploy's order kept over the nodes run again: a component none of whose
    nodes runs again holds nothing back. None for a job without components."""
    if not job.components:
        return None
    chosen = set(nodes)
    return [
        Component(name, [node for node in run.nodes if node in chosen], list(run.requires))
        for name, run in job.components.items()
        if any(node in chosen for node in run.nodes)
    ]
