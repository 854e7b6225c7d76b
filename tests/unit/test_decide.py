"""The scheduler's decisions over folded state: concurrency, the global limit, stop, finish,
and settling the runs of a lost executor."""

from __future__ import annotations

from libs.events.fold import fold_all
from libs.events.model import (
    Event,
    ExecutorLost,
    JobFinished,
    JobReady,
    JobState,
    JobStopping,
    JobStopRequested,
    NodeRunDispatched,
    NodeRunFinished,
    NodeRunStarted,
    NodeState,
)
from libs.events.state import State
from services.scheduler.decide import (
    decide,
    lost_executors,
    settle_lost_executor,
    undelivered_work,
)
from tests.builders import job_requested, stamp


class World:
    """Folds what the test says happened, then what the scheduler decides, like the loop does."""

    def __init__(self, *events: Event) -> None:
        self.log: list[Event] = list(events)

    @property
    def state(self) -> State:
        return fold_all(stamp(self.log))

    def apply(self, *events: Event) -> None:
        self.log.extend(events)

    def step(self, max_inflight: int = 250, now: float = 10.0) -> list[Event]:
        decision = decide(self.state, now, max_inflight)
        self.log.extend(decision.events)
        return decision.events


def dispatched(events: list[Event]) -> list[tuple[str, str]]:
    return [(e.job, e.node) for e in events if isinstance(e, NodeRunDispatched)]


def test_a_new_job_is_readied_and_dispatched_up_to_its_concurrency() -> None:
    world = World(job_requested(["a", "b", "c"], request_id="r", concurrency=2))
    events = world.step()
    assert isinstance(events[0], JobReady)
    assert dispatched(events) == [("1", "a"), ("1", "b")]
    assert world.step() == []  # nothing more until a run ends
    world.apply(NodeRunFinished(at=11.0, job="1", node="a", attempt=1, state=NodeState.FINISHED))
    assert dispatched(world.step()) == [("1", "c")]


def test_the_global_limit_is_shared_by_jobs_oldest_first() -> None:
    world = World(
        job_requested(["a", "b"], request_id="r1"),
        job_requested(["c", "d"], request_id="r2"),
    )
    assert dispatched(world.step(max_inflight=3)) == [("1", "a"), ("1", "b"), ("2", "c")]
    assert dispatched(world.step(max_inflight=3)) == []


def test_a_job_finishes_once_every_node_has_ended() -> None:
    world = World(job_requested(["a"], request_id="r"))
    world.step()
    world.apply(NodeRunFinished(at=11.0, job="1", node="a", attempt=1, state=NodeState.FAILED))
    events = world.step()
    assert events == [JobFinished(at=10.0, job="1", state=JobState.FINISHED)]
    assert world.step() == []
    assert world.state.jobs["1"].state == JobState.FINISHED


def test_a_stop_skips_undispatched_nodes_and_waits_for_runs_in_flight() -> None:
    world = World(job_requested(["a", "b", "c"], request_id="r", concurrency=1))
    world.step()
    world.apply(JobStopRequested(at=11.0, job="1"))
    events = world.step()
    assert isinstance(events[0], JobStopping)
    skipped = [e.node for e in events if isinstance(e, NodeRunFinished)]
    assert skipped == ["b", "c"]
    assert not any(isinstance(e, JobFinished) for e in events)
    world.apply(JobStopRequested(at=12.0, job="1"))  # a second stop changes nothing
    assert world.step() == []
    world.apply(NodeRunFinished(at=13.0, job="1", node="a", attempt=1, state=NodeState.FINISHED))
    assert world.step() == [JobFinished(at=10.0, job="1", state=JobState.STOPPED)]


def test_a_stop_before_any_dispatch_ends_the_job_at_once() -> None:
    world = World(job_requested(["a"], request_id="r"), JobStopRequested(at=1.0, job="1"))
    events = world.step()
    assert [type(e).__name__ for e in events] == ["JobStopping", "NodeRunFinished", "JobFinished"]
    assert world.state.jobs["1"].state == JobState.STOPPED


def test_a_lost_executors_task_runs_end_errored_and_deploy_runs_go_again() -> None:
    world = World(
        job_requested(["a"], request_id="r1", kind="task"),
        job_requested(["b"], request_id="r2", kind="deploy"),
    )
    world.step()
    world.apply(
        NodeRunStarted(at=11.0, job="1", node="a", attempt=1, executor="x"),
        NodeRunStarted(at=11.0, job="2", node="b", attempt=1, executor="x"),
    )
    state = world.state
    assert lost_executors(state, {"x": 11.0}, now=20.0, lease_s=15.0, since=0.0) == []
    assert lost_executors(state, {"x": 11.0}, now=30.0, lease_s=15.0, since=0.0) == ["x"]
    assert lost_executors(state, {}, now=30.0, lease_s=15.0, since=20.0) == []
    decision = settle_lost_executor(state, "x", now=30.0)
    assert isinstance(decision.events[0], ExecutorLost)
    task_end = next(e for e in decision.events if isinstance(e, NodeRunFinished))
    assert (task_end.job, task_end.state) == ("1", NodeState.ERRORED)
    assert task_end.result["kind"] == "puppetlabs.orchestrator/execution-failure"
    again = next(e for e in decision.events if isinstance(e, NodeRunDispatched))
    assert (again.job, again.node, again.attempt) == ("2", "b", 2)
    assert [(w.job, w.node, w.attempt) for w in decision.work] == [("2", "b", 2)]
    world.apply(*decision.events)
    assert lost_executors(world.state, {}, now=99.0, lease_s=15.0, since=0.0) == []


def test_work_dispatched_but_never_started_is_handed_out_again_after_a_restart() -> None:
    world = World(job_requested(["a", "b"], request_id="r"))
    world.step()
    world.apply(NodeRunStarted(at=11.0, job="1", node="a", attempt=1, executor="x"))
    assert [(w.node, w.attempt) for w in undelivered_work(world.state)] == [("b", 1)]
