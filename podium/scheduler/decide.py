"""The scheduler's decisions: plain functions from folded state (and the time) to events and work.

Nothing here does I/O or reads a clock. The loop in `scheduler.py` appends what these return and
waits until it is folded before deciding again, so a decision never sees its own effects missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import Final

from podium.events.endings import SKIPPED_BY_STOP, run_errored, run_skipped
from podium.events.jobspec import RunSpec
from podium.events.model import (
    JOB_TERMINAL,
    NODE_TERMINAL,
    Event,
    ExecutorLost,
    JobFinished,
    JobReady,
    JobsPruned,
    JobState,
    JobStopping,
    NodeRunDispatched,
    NodeRunFinished,
    NodeState,
)
from podium.events.state import Job, NodeRun, State, split_run_key
from podium.events.work import WorkItem

UNBOUNDED: Final = 1 << 62
SKIPPED_BY_CYCLE: Final = "The components this node's component requires can never finish"


@dataclass(slots=True)
class Decision:
    events: list[Event] = field(default_factory=list)
    work: list[WorkItem] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.events or self.work)


def decide(state: State, now: float, max_inflight: int, max_dispatch: int = UNBOUNDED) -> Decision:
    """Advance every live job one step: ready it, stop it, dispatch within limits, finish it.

    Jobs are served oldest first, so the global `max_inflight` budget goes to them first. At
    most `max_dispatch` runs are dispatched in one step, so that a step (and the queueing of
    its work) stays short and a stop is decided soon after it arrives.
    """
    decision = Decision()
    budget = min(max_inflight - state.inflight, max_dispatch)
    for name in state.active:
        job = state.jobs[name]
        if job.refused:
            _refuse(job, now, decision)
        if job.stop_requested or job.state == JobState.STOPPING:
            _stop(job, now, decision)
            continue
        if job.state == JobState.NEW:
            decision.events.append(JobReady(at=now, job=name))
        if job.doomed:
            _skip_doomed(job, now, decision)
        if job.undispatched:
            budget -= _dispatch(job, now, budget, decision)
        elif job.inflight == 0 and not job.doomed:
            if not job.waiting:
                decision.events.append(JobFinished(at=now, job=name, state=JobState.FINISHED))
            elif not job.refused:  # nothing left that could ever release them
                _skip(job, _blocked(job, job.waiting), now, SKIPPED_BY_CYCLE, decision)
    return decision


def prune_due(state: State, now: float, retention_s: float, every_s: float) -> JobsPruned | None:
    """Retention: prune the jobs that ended more than `retention_s` ago, once the horizon has
    moved by `every_s` since the last pruning, and only once the log is older than that."""
    before = now - retention_s
    if state.began_at >= before or before - state.pruned_before < every_s:
        return None
    return JobsPruned(at=now, before=before)


def _stop(job: Job, now: float, decision: Decision) -> None:
    """Stopping: skip whatever has not been dispatched (the scheduler may have said
    `job_stopping` already, ahead of its steps), and end the job once nothing is in flight."""
    if job.state != JobState.STOPPING:
        decision.events.append(JobStopping(at=now, job=job.name))
    _skip(job, job.undispatched, now, SKIPPED_BY_STOP, decision)
    if job.components:
        blocked = _blocked(job, [*job.waiting, *job.doomed])
        _skip(job, blocked, now, SKIPPED_BY_STOP, decision)
    if job.inflight == 0:
        decision.events.append(JobFinished(at=now, job=job.name, state=JobState.STOPPED))


def stopping_now(state: State, job_name: str, now: float) -> JobStopping | None:
    """`job_stopping` for a job whose stop was just asked for, without waiting for a step: the
    steps skip its undispatched nodes and end it (a stop must take effect at once)."""
    job = state.jobs.get(job_name)
    if job is None or not job.stop_requested or job.state in (*JOB_TERMINAL, JobState.STOPPING):
        return None
    return JobStopping(at=now, job=job_name)


def _skip(job: Job, nodes: Iterable[str], now: float, message: str, decision: Decision) -> None:
    decision.events.extend(run_skipped(job.name, node, now, message) for node in nodes)


def _refuse(job: Job, now: float, decision: Decision) -> None:
    """End the nodes the command refused (e.g. another environment) without running them."""
    decision.events.extend(
        run_errored(job.name, node, 0, now, message) for node, message in job.refused.items()
    )


def _skip_doomed(job: Job, now: float, decision: Decision) -> None:
    for name in job.doomed:
        component = job.components[name]
        failed = next((r for r in component.requires if job.components[r].broken), "a component")
        message = f"Skipped: {name} requires {failed}, which did not finish successfully"
        _skip(job, _blocked(job, [name]), now, message, decision)


def _blocked(job: Job, components: Iterable[str]) -> list[str]:
    """The nodes of these held-back components that still need an end."""
    return [
        node
        for name in components
        for node in job.components[name].nodes
        if job.nodes[node].state not in NODE_TERMINAL and node not in job.refused
    ]


def _dispatch(job: Job, now: float, budget: int, decision: Decision) -> int:
    concurrency = job.spec.concurrency
    room = budget if concurrency is None else min(budget, concurrency - job.inflight)
    if room <= 0:
        return 0
    spec = job.spec.run_spec()
    nodes = list(islice(job.undispatched, room))
    for node in nodes:
        decision.events.append(NodeRunDispatched(at=now, job=job.name, node=node, attempt=1))
        decision.work.append(work_item(job, job.nodes[node], 1, spec))
    return len(nodes)


def settle_lost_executor(state: State, executor: str, now: float) -> Decision:
    """Settle the runs a lost executor had started: a task is not run again and ends `errored`;
    a deploy (Puppet runs are idempotent) is dispatched again."""
    decision = Decision([ExecutorLost(at=now, executor=executor)])
    specs: dict[str, RunSpec] = {}
    for key in state.running.get(executor, {}):
        job_name, node = split_run_key(key)
        job = state.jobs[job_name]
        run = job.nodes[node]
        if job.kind == "deploy":
            spec = specs.get(job_name) or specs.setdefault(job_name, job.spec.run_spec())
            attempt = run.attempt + 1
            decision.events.append(
                NodeRunDispatched(at=now, job=job_name, node=node, attempt=attempt)
            )
            decision.work.append(work_item(job, run, attempt, spec))
        else:
            message = f"The executor {executor} running this task was lost"
            decision.events.append(run_errored(job_name, node, run.attempt, now, message))
    return decision


def lost_executors(
    state: State, last_seen: Mapping[str, float], now: float, lease_s: float, since: float
) -> list[str]:
    """Executors holding started runs that have not been heard from for `lease_s`. One never
    heard from counts from `since` (when this scheduler started listening)."""
    return [
        executor
        for executor in state.running
        if executor not in state.lost_executors
        and now - max(last_seen.get(executor, since), since) > lease_s
    ]


def undelivered_work(state: State, dispatched_after: int = 0) -> list[WorkItem]:
    """Work dispatched (after log position `dispatched_after`) but never started: what an
    in-process queue lost with its process, or what a scheduler that died may not have queued."""
    work: list[WorkItem] = []
    for name in state.active:
        job = state.jobs[name]
        if job.inflight == 0:
            continue
        spec = job.spec.run_spec()
        work.extend(
            work_item(job, run, run.attempt, spec)
            for run in _dispatched(job.nodes.values())
            if run.executor is None and run.dispatched_position > dispatched_after
        )
    return work


def parked_run(state: State, item: WorkItem, now: float) -> NodeRunFinished | None:
    """A work item the queue gave up delivering: its run ends `errored`, unless it has ended."""
    job = state.jobs.get(item.job)
    run = None if job is None or job.state in JOB_TERMINAL else job.nodes.get(item.node)
    if run is None or run.state in NODE_TERMINAL or run.attempt != item.attempt:
        return None
    message = f"The work for {item.node} could not be delivered to an executor"
    return run_errored(item.job, item.node, item.attempt, now, message)


def _dispatched(runs: Iterable[NodeRun]) -> Iterable[NodeRun]:
    return (
        run for run in runs if run.dispatched and run.state in (NodeState.NEW, NodeState.RUNNING)
    )


def work_item(job: Job, run: NodeRun, attempt: int, spec: RunSpec) -> WorkItem:
    target = job.targets[run.target]
    return WorkItem(
        job=job.name,
        node=run.name,
        attempt=attempt,
        transport=target.transport,
        config=target.config,
        features=target.features,
        spec=spec,
    )
