"""Component bookkeeping for the fold: which components of an application deploy may start.

A component is released (its nodes join `undispatched`) once every component it requires has
succeeded; it is doomed (the scheduler skips its nodes) as soon as one of them breaks. All of it
is derived from the job's own events, so replaying the log gives the same answers. Jobs without
components never reach this module.
"""

from __future__ import annotations

from collections.abc import Iterable

from podium.events.model import NODE_TERMINAL, Component, NodeState
from podium.events.state import ComponentRun, Job


def plan_components(job: Job, components: Iterable[Component]) -> None:
    """Record the components; hold back the nodes of those that wait for others."""
    runs: dict[str, ComponentRun] = {}
    for component in components:
        nodes = [n for n in component.nodes if n in job.nodes and n not in job.component_of]
        job.component_of.update(dict.fromkeys(nodes, component.name))
        runs[component.name] = ComponentRun(nodes, list(component.requires), unfinished=len(nodes))
    for name, run in runs.items():  # a requirement outside the job cannot hold anything back
        run.requires = [r for r in dict.fromkeys(run.requires) if r in runs and r != name]
        for required in run.requires:
            runs[required].dependants.append(name)
    job.components = runs
    for name, run in runs.items():
        if run.requires:
            job.waiting[name] = None
            for node in run.nodes:
                job.undispatched.pop(node, None)
    release(job, list(job.waiting))


def component_progress(job: Job, node: str, state: NodeState) -> None:
    """A node of the job ended: update its component, then doom or release its dependants."""
    name = job.component_of.get(node)
    if name is None:
        return
    run = job.components[name]
    run.unfinished -= 1
    if state != NodeState.FINISHED and not run.broken:
        run.broken = True
        for dependant in run.dependants:
            if dependant in job.waiting:
                _doom(job, dependant)
    if run.unfinished == 0:
        job.waiting.pop(name, None)
        job.doomed.pop(name, None)
        if not run.broken:
            release(job, run.dependants)


def release(job: Job, candidates: Iterable[str]) -> None:
    """Release each waiting candidate whose requirements have all succeeded."""
    for name in candidates:
        run = job.components[name]
        if name not in job.waiting or not all(_succeeded(job, r) for r in run.requires):
            continue
        del job.waiting[name]
        for node in run.nodes:
            if job.nodes[node].state not in NODE_TERMINAL and node not in job.refused:
                job.undispatched[node] = None
        if run.unfinished == 0:  # nothing of its own to wait for: its dependants may go too
            release(job, run.dependants)


def _succeeded(job: Job, name: str) -> bool:
    """Released (its own requirements succeeded) and every node of it finished."""
    run = job.components[name]
    return run.unfinished == 0 and not run.broken and name not in job.waiting


def _doom(job: Job, name: str) -> None:
    del job.waiting[name]
    run = job.components[name]
    if run.unfinished:
        job.doomed[name] = None  # the scheduler skips its nodes; their ends cascade further
        return
    run.broken = True  # no node of its own will ever report: cascade now
    for dependant in run.dependants:
        if dependant in job.waiting:
            _doom(job, dependant)
