"""The fold: one pure, deterministic function from (state, event) to state.

It never does I/O and never reads the clock: times come from the events. It is idempotent: an
event whose (origin, seq) it has already applied changes nothing, and the first terminal status
of a node run, or of a job, wins over any later one. Every event that is not such a copy gets the
next position, which is its public id. The state is updated in place and returned.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import assert_never

from podium.events.components import component_progress, plan_components
from podium.events.identity import fold_identity
from podium.events.model import (
    JOB_TERMINAL,
    NODE_TERMINAL,
    Event,
    ExecutorLost,
    JobAborted,
    JobFinished,
    JobReady,
    JobRequested,
    JobsPruned,
    JobState,
    JobStopping,
    JobStopRequested,
    NodeRunDispatched,
    NodeRunFinished,
    NodeRunStarted,
    NodeState,
    PermissionGranted,
    PermissionRevoked,
    PlanFinished,
    PlanJobRequested,
    PlanResumed,
    PlanStepFinished,
    PlanStepStarted,
    PlanStopRequested,
    ProducerFenced,
    RoleCreated,
    ScheduleChanged,
    ScheduleCreated,
    ScheduleFired,
    ScheduleMissed,
    ScheduleRunRefused,
    ScheduleSkipped,
    TaskTargetCreated,
    TokenIssued,
    TokenRevoked,
    UserAddedToRole,
    UserCreated,
    UserDisabled,
    WorkQueued,
)
from podium.events.planfold import fold_plan, is_plan_pruned, plan_job_of
from podium.events.schedules import fold_schedule, is_fired_unmade, job_made
from podium.events.state import (
    CONTACT_TRANSPORTS,
    Contact,
    Job,
    JobEvent,
    NodeRun,
    RequestMark,
    State,
    StatusEntry,
    run_key,
)


def fold(state: State, event: Event) -> State:
    """Apply one event; the same log always folds to the same state."""
    if event.origin:
        if event.seq <= state.marks.get(event.origin, 0):
            return state  # a copy left by a retried append
        state.marks[event.origin] = event.seq
    state.position += 1
    if state.position == 1:
        state.began_at = event.at
    match event:  # the events of node runs first: they are most of any log
        case NodeRunFinished() | NodeRunStarted() | NodeRunDispatched():
            _fold_run_event(state, event)
        case JobRequested() | JobReady() | JobStopRequested() | JobStopping():
            _fold_job_event(state, event)
        case (
            JobAborted()
            | JobFinished()
            | ExecutorLost()
            | WorkQueued()
            | JobsPruned()
            | ProducerFenced()
        ):
            _fold_other_event(state, event)
        case (
            PlanJobRequested()
            | PlanStepStarted()
            | PlanStepFinished()
            | PlanStopRequested()
            | PlanResumed()
            | PlanFinished()
        ):
            fold_plan(state, event)
        case (
            TokenIssued()
            | TokenRevoked()
            | UserCreated()
            | UserDisabled()
            | RoleCreated()
            | PermissionGranted()
            | PermissionRevoked()
            | UserAddedToRole()
            | TaskTargetCreated()
        ):
            fold_identity(state, event)
        case (
            ScheduleCreated()
            | ScheduleChanged()
            | ScheduleFired()
            | ScheduleMissed()
            | ScheduleSkipped()
            | ScheduleRunRefused()
        ):
            fold_schedule(state, event)
        case _:
            assert_never(event)
    return state


def _fold_run_event(
    state: State, event: NodeRunFinished | NodeRunStarted | NodeRunDispatched
) -> None:
    match event:
        case NodeRunFinished():
            _node_run_finished(state, event)
        case NodeRunStarted():
            _node_run_started(state, event)
        case NodeRunDispatched():
            _node_run_dispatched(state, event)
        case _:
            assert_never(event)


def _fold_job_event(
    state: State, event: JobRequested | JobReady | JobStopRequested | JobStopping
) -> None:
    match event:
        case JobRequested():
            _job_requested(state, event)
        case JobReady():
            _job_ready(state, event)
        case JobStopRequested():
            _job_stop_requested(state, event)
        case JobStopping():
            _job_stopping(state, event)
        case _:
            assert_never(event)


def _fold_other_event(
    state: State,
    event: JobAborted | JobFinished | ExecutorLost | WorkQueued | JobsPruned | ProducerFenced,
) -> None:
    match event:
        case JobAborted():
            _job_aborted(state, event)
        case JobFinished():
            _job_finished(state, event)
        case ExecutorLost():
            _executor_lost(state, event)
        case WorkQueued():
            _work_queued(state, event)
        case JobsPruned():
            _jobs_pruned(state, event)
        case ProducerFenced():
            pass  # it moved its producer's mark (in `fold`): that is all it does
        case _:
            assert_never(event)


def fold_all(events: Iterable[Event], state: State | None = None) -> State:
    state = State() if state is None else state
    for event in events:
        fold(state, event)
    return state


def _job_requested(state: State, event: JobRequested) -> None:
    if event.request_id in state.requests:
        return
    scheduled = event.spec.origin.scheduled_job_id is not None
    if scheduled and not is_fired_unmade(state, event.request_id):
        return  # its occurrence was refused already, or never fired
    state.job_count += 1
    name = str(state.job_count)
    target_of = {node: index for index, target in enumerate(event.targets) for node in target.nodes}
    nodes = {node: NodeRun(node, target_of[node]) for node in event.nodes}
    job = state.jobs[name] = Job(
        name=name,
        owner=event.owner,
        spec=event.spec,
        targets=event.targets,
        created_at=event.at,
        created_position=state.position,
        state=JobState.NEW,
        status=[StatusEntry(JobState.NEW, event.at)],
        nodes=nodes,
        undispatched=dict.fromkeys(nodes),
        counts={NodeState.NEW: len(nodes)},
        updated_at=event.at,
    )
    if event.refused:
        job.refused = {node: why for node, why in event.refused.items() if node in nodes}
        for node in job.refused:
            del job.undispatched[node]
    if event.components:
        plan_components(job, event.components)
    state.active[name] = None
    state.requests[event.request_id] = name
    if scheduled:
        job_made(state, event.request_id, name)
    if event.spec.origin.plan_job is not None:
        plan_job_of(state, job)


def _job_ready(state: State, event: JobReady) -> None:
    job = state.jobs.get(event.job)
    if job is not None and job.state == JobState.NEW:
        _enter(job, JobState.READY, event.at)


def _node_run_dispatched(state: State, event: NodeRunDispatched) -> None:
    job, run = _live_run(state, event.job, event.node)
    if job is None or run is None:
        return
    if run.dispatched:
        if event.attempt <= run.attempt:
            return  # the same dispatch again (two schedulers overlapping for a moment)
        _forget_executor(state, event.job, run)  # dispatched again after its executor was lost
    else:
        run.dispatched = True
        job.inflight += 1
        state.inflight += 1
        job.undispatched.pop(run.name, None)
    run.attempt = event.attempt
    run.dispatched_position = state.position
    if job.state in (JobState.NEW, JobState.READY):
        _enter(job, JobState.RUNNING, event.at)
        job.started_at = event.at


def _node_run_started(state: State, event: NodeRunStarted) -> None:
    job, run = _live_run(state, event.job, event.node)
    if job is None or run is None or not run.dispatched or event.attempt != run.attempt:
        return  # a stale attempt: that run was settled when its executor was lost
    if run.executor is not None:
        return  # a second start of the same attempt (a redelivered work item)
    _count(job, run, NodeState.RUNNING)
    run.executor = event.executor
    if run.started_at is None:
        run.started_at = event.at
    run.updated_at = event.at
    state.running.setdefault(event.executor, {})[run_key(job.name, run.name)] = None
    _job_event(state, job, "node_running", event.at, run, {"noop": job.spec.noop})


def _node_run_finished(state: State, event: NodeRunFinished) -> None:
    job, run = _live_run(state, event.job, event.node)
    if job is None or run is None or event.state not in NODE_TERMINAL:
        return
    if run.dispatched:
        job.inflight -= 1
        state.inflight -= 1
        _forget_executor(state, job.name, run)
    job.undispatched.pop(run.name, None)
    if job.refused:
        job.refused.pop(run.name, None)
    _count(job, run, event.state)
    if job.components:
        component_progress(job, run.name, event.state)
    if event.state != NodeState.SKIPPED:
        run.finished_at = event.at
        run.result = event.result
        _contact(state, job, run, event)
    run.message = event.message
    run.updated_at = event.at
    detail = {"message": event.message} if event.state == NodeState.SKIPPED else event.result
    _job_event(state, job, f"node_{event.state.value}", event.at, run, detail)


def _contact(state: State, job: Job, run: NodeRun, event: NodeRunFinished) -> None:
    """Remember whether the run reached its remote node, when it says."""
    if event.reached is not None and job.transport(run) in CONTACT_TRANSPORTS:
        state.contacts[run.name] = Contact(event.reached, event.at)


def _job_stop_requested(state: State, event: JobStopRequested) -> None:
    job = _live_job(state, event.job)
    if job is not None:
        job.stop_requested = True
        job.force = job.force or event.force


def _job_stopping(state: State, event: JobStopping) -> None:
    job = _live_job(state, event.job)
    if job is not None and job.state != JobState.STOPPING:
        _enter(job, JobState.STOPPING, event.at)
        _job_event(state, job, "job_stopping", event.at, None, {"state": "stopping"})


def _job_aborted(state: State, event: JobAborted) -> None:
    job = _live_job(state, event.job)
    if job is not None:
        detail = {"state": JobState.FAILED.value}
        _job_event(state, job, "job_aborted", event.at, None, detail, event.reason)


def _job_finished(state: State, event: JobFinished) -> None:
    job = _live_job(state, event.job)
    if job is None or event.state not in JOB_TERMINAL:
        return
    _enter(job, event.state, event.at)
    job.finished_at = event.at
    state.active.pop(job.name, None)
    if job.inflight:  # an ended job holds no slot, whatever its runs said last
        for run in job.nodes.values():
            if run.dispatched and run.state not in NODE_TERMINAL:
                _forget_executor(state, job.name, run)
        state.inflight -= job.inflight
        job.inflight = 0
    _job_event(state, job, "job_finished", event.at, None, {"state": event.state.value})


def _executor_lost(state: State, event: ExecutorLost) -> None:
    state.lost_executors[event.executor] = event.at


def _work_queued(state: State, event: WorkQueued) -> None:
    state.work_queued_through = max(state.work_queued_through, event.through)


def _jobs_pruned(state: State, event: JobsPruned) -> None:
    """Forget the jobs and plan jobs that ended before `before`: those still held here (a
    state folded without an archive keeps them); a projection deletes its own."""
    if event.before <= state.pruned_before:
        return
    state.pruned_before = event.before
    for name in [name for name, job in state.jobs.items() if is_pruned(job, event.before)]:
        del state.jobs[name]
    plans = state.plan_jobs
    for name in [name for name, plan in plans.items() if is_plan_pruned(plan, event.before)]:
        del plans[name]
    _forget_requests(state, event)


def _forget_requests(state: State, event: JobsPruned) -> None:
    """Forget the request ids of jobs and plan jobs requested before the newest pruning that
    `event`'s horizon has passed, unless they are live: a retried request (the same command
    sent again, de-duplicated by its request id) comes within moments, not after a whole
    retention period, and one that came later would make a new job."""
    marks = state.request_marks
    marks.append(RequestMark(event.at, state.job_count, state.plan_job_count))
    passed = [mark for mark in marks if mark.at < event.before]
    if not passed:
        return
    state.request_marks = [mark for mark in marks if mark.at >= event.before]
    _forget(state.requests, passed[-1].jobs, state.active)
    _forget(state.plan_requests, passed[-1].plan_jobs, state.active_plans)


def _forget(requests: dict[str, str], through: int, live: dict[str, None]) -> None:
    """`requests` is in the order of the names it gives (each was added as its job was
    named), so those named up to `through` come first."""
    forgotten = []
    for request_id, name in requests.items():
        if int(name) > through:
            break
        if name not in live:
            forgotten.append(request_id)
    for request_id in forgotten:
        del requests[request_id]


def is_pruned(job: Job, before: float) -> bool:
    return job.finished_at is not None and job.state in JOB_TERMINAL and job.finished_at < before


def _live_job(state: State, name: str) -> Job | None:
    job = state.jobs.get(name)
    return None if job is None or job.state in JOB_TERMINAL else job


def _live_run(state: State, job_name: str, node: str) -> tuple[Job | None, NodeRun | None]:
    job = _live_job(state, job_name)
    run = None if job is None else job.nodes.get(node)
    if run is None or run.state in NODE_TERMINAL:
        return job, None
    return job, run


def _count(job: Job, run: NodeRun, new: NodeState) -> None:
    counts = job.counts
    counts[run.state] -= 1
    if not counts[run.state]:
        del counts[run.state]
    counts[new] = counts.get(new, 0) + 1
    run.state = new


def _forget_executor(state: State, job: str, run: NodeRun) -> None:
    if run.executor is not None:
        runs = state.running.get(run.executor)
        if runs is not None:
            runs.pop(run_key(job, run.name), None)
            if not runs:
                del state.running[run.executor]
        run.executor = None


def _enter(job: Job, new: JobState, at: float) -> None:
    job.status[-1].exit = at
    job.status.append(StatusEntry(new, at))
    job.state = new
    job.updated_at = at


def _job_event(
    state: State,
    job: Job,
    kind: str,
    at: float,
    run: NodeRun | None,
    detail: object,
    message: str = "",
) -> None:
    node = None
    if run is not None:
        run.latest_event = state.position
        node = run.name
    job.events.append(JobEvent(state.position, kind, at, node, detail, message))
