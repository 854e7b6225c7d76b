"""The scheduler's decisions over folded state: concurrency, the global limit, stop, finish,
and settling the runs of a lost executor."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from podium.events.fold import fold_all
from podium.events.model import (
    NODE_TERMINAL,
    Component,
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
from podium.events.state import State
from podium.scheduler.decide import (
    decide,
    lost_executors,
    settle_lost_executor,
    stopping_now,
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


def test_a_step_dispatches_at_most_max_dispatch_runs_and_the_next_step_goes_on() -> None:
    world = World(job_requested(["a", "b", "c"], request_id="r1"))
    first = decide(world.state, 10.0, 250, max_dispatch=2)
    assert dispatched(first.events) == [("1", "a"), ("1", "b")]
    world.apply(*first.events)
    assert dispatched(decide(world.state, 10.0, 250, max_dispatch=2).events) == [("1", "c")]


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


# Application deploys: components, dependency order, failures skipping dependants.

CHAIN = (
    Component("Db", ["a"]),
    Component("App", ["b"], ["Db"]),
    Component("Web", ["c", "d"], ["App"]),
)


def finish(job: str, node: str, state: NodeState = NodeState.FINISHED) -> NodeRunFinished:
    return NodeRunFinished(at=11.0, job=job, node=node, attempt=1, state=state)


def skipped(events: list[Event]) -> dict[str, str]:
    return {
        e.node: e.message
        for e in events
        if isinstance(e, NodeRunFinished) and e.state == NodeState.SKIPPED
    }


def test_a_component_starts_only_after_the_components_it_requires_have_finished() -> None:
    world = World(job_requested(["a", "b", "c", "d", "free"], request_id="r", components=CHAIN))
    assert dispatched(world.step()) == [("1", "a"), ("1", "free")]
    assert world.step() == []
    world.apply(finish("1", "free"))
    assert world.step() == []  # a node outside every component holds nothing back
    world.apply(finish("1", "a"))
    assert dispatched(world.step()) == [("1", "b")]
    world.apply(finish("1", "b"))
    assert dispatched(world.step()) == [("1", "c"), ("1", "d")]
    world.apply(finish("1", "c"), finish("1", "d"))
    assert world.step() == [JobFinished(at=10.0, job="1", state=JobState.FINISHED)]


def test_a_failed_component_skips_its_dependants_and_theirs_in_turn() -> None:
    world = World(job_requested(["a", "b", "c", "d"], request_id="r", components=CHAIN))
    world.step()
    world.apply(finish("1", "a", NodeState.FAILED))
    first = world.step()
    assert skipped(first) == {"b": "Skipped: App requires Db, which did not finish successfully"}
    second = world.step()
    assert set(skipped(second)) == {"c", "d"}
    assert "Web requires App" in skipped(second)["c"]
    assert world.step() == [JobFinished(at=10.0, job="1", state=JobState.FINISHED)]
    job = world.state.jobs["1"]
    assert job.counts == {NodeState.FAILED: 1, NodeState.SKIPPED: 3}
    assert dispatched(world.log) == [("1", "a")]


def test_dependants_are_skipped_as_soon_as_one_required_node_fails() -> None:
    components = (Component("Db", ["a", "a2"]), Component("App", ["b"], ["Db"]))
    world = World(job_requested(["a", "a2", "b"], request_id="r", components=components))
    world.step()
    world.apply(finish("1", "a", NodeState.ERRORED))
    assert set(skipped(world.step())) == {"b"}  # a2 is still running; b can never start
    world.apply(finish("1", "a2"))
    assert world.step() == [JobFinished(at=10.0, job="1", state=JobState.FINISHED)]


def test_a_component_with_no_nodes_in_the_job_holds_nothing_back() -> None:
    components = (Component("Empty", []), Component("Mid", [], ["Empty"]), CHAIN[1])
    world = World(
        job_requested(["b"], request_id="r", components=(*components, Component("Db", [])))
    )
    assert dispatched(world.step()) == [("1", "b")]


def test_a_stop_skips_the_nodes_of_components_still_waiting() -> None:
    world = World(job_requested(["a", "b", "c", "d"], request_id="r", components=CHAIN))
    world.step()
    world.apply(JobStopRequested(at=11.0, job="1"))
    events = world.step()
    assert set(skipped(events)) == {"b", "c", "d"}
    world.apply(finish("1", "a"))
    assert world.step() == [JobFinished(at=10.0, job="1", state=JobState.STOPPED)]
    assert dispatched(world.log) == [("1", "a")]


def test_refused_nodes_end_errored_without_running_and_skip_their_dependants() -> None:
    reason = "n is in environment dev, not production"
    world = World(
        job_requested(
            ["a", "b", "c", "d", "x"], request_id="r", components=CHAIN, refused={"a": reason}
        )
    )
    events = world.step()
    errored = [e for e in events if isinstance(e, NodeRunFinished)]
    assert [(e.node, e.state, e.message) for e in errored] == [("a", NodeState.ERRORED, reason)]
    assert errored[0].result["kind"] == "puppetlabs.orchestrator/execution-failure"
    assert dispatched(events) == [("1", "x")]
    world.apply(finish("1", "x"))
    for _ in range(4):
        world.step()
    job = world.state.jobs["1"]
    assert job.state == JobState.FINISHED
    assert job.counts == {NodeState.ERRORED: 1, NodeState.SKIPPED: 3, NodeState.FINISHED: 1}


def test_a_job_whose_every_node_is_refused_still_finishes() -> None:
    world = World(job_requested(["a"], request_id="r", refused={"a": "wrong environment"}))
    world.step()
    world.step()
    assert world.state.jobs["1"].state == JobState.FINISHED
    assert dispatched(world.log) == []


def test_components_that_require_each_other_are_skipped_rather_than_left_waiting() -> None:
    components = (Component("A", ["a"], ["B"]), Component("B", ["b"], ["A"]))
    world = World(job_requested(["a", "b", "free"], request_id="r", components=components))
    assert dispatched(world.step()) == [("1", "free")]
    world.apply(finish("1", "free"))
    assert set(skipped(world.step())) == {"a", "b"}
    assert world.step() == [JobFinished(at=10.0, job="1", state=JobState.FINISHED)]


@st.composite
def component_jobs(draw: st.DrawFn) -> tuple[list[Component], dict[str, NodeState]]:
    """A random acyclic component graph (each requires only earlier ones) and run outcomes."""
    count = draw(st.integers(1, 6))
    components = []
    outcomes: dict[str, NodeState] = {}
    for index in range(count):
        nodes = [f"n{index}-{k}" for k in range(draw(st.integers(0, 3)))]
        requires = draw(st.lists(st.sampled_from([f"C{i}" for i in range(index)] or ["-"])))
        requires = [r for r in requires if r != "-"]
        components.append(Component(f"C{index}", nodes, requires))
        for node in nodes:
            outcomes[node] = draw(st.sampled_from(list(NODE_TERMINAL - {NodeState.SKIPPED})))
    return components, outcomes


@settings(max_examples=150, deadline=None)
@given(job=component_jobs(), concurrency=st.none() | st.integers(1, 3))
def test_no_node_starts_before_its_requirements_succeed_and_every_node_ends(
    job: tuple[list[Component], dict[str, NodeState]], concurrency: int | None
) -> None:
    components, outcomes = job
    by_name = {c.name: c for c in components}
    world = World(
        job_requested(
            list(outcomes), request_id="r", components=components, concurrency=concurrency
        )
    )
    for _ in range(200):
        events = world.step()
        if any(isinstance(e, JobFinished) for e in events):
            break
        for _, node in dispatched(events):
            owner = next(c for c in components if node in c.nodes)
            state = world.state.jobs["1"]
            for required in owner.requires:
                assert all(
                    state.nodes[n].state == NodeState.FINISHED for n in by_name[required].nodes
                )
            world.apply(finish("1", node, outcomes[node]))
    final = world.state.jobs["1"]
    assert final.state == JobState.FINISHED

    def healthy(name: str) -> bool:
        component = by_name[name]
        return all(
            healthy(r) and all(outcomes[n] == NodeState.FINISHED for n in by_name[r].nodes)
            for r in component.requires
        )

    for component in components:
        for node in component.nodes:
            expected = outcomes[node] if healthy(component.name) else NodeState.SKIPPED
            assert final.nodes[node].state == expected


def test_a_stop_can_be_said_at_once_and_the_steps_skip_what_is_left() -> None:
    world = World(job_requested(["a", "b", "c"], request_id="r", concurrency=1))
    world.step()
    assert stopping_now(world.state, "1", 11.0) is None  # no stop asked for
    world.apply(JobStopRequested(at=11.0, job="1"))
    said = stopping_now(world.state, "1", 11.0)
    assert said == JobStopping(at=11.0, job="1")
    world.apply(said)
    assert stopping_now(world.state, "1", 12.0) is None  # said once
    events = world.step()
    assert not any(isinstance(e, JobStopping) for e in events)
    assert [e.node for e in events if isinstance(e, NodeRunFinished)] == ["b", "c"]
    assert world.state.jobs["1"].state == JobState.STOPPING
    world.apply(NodeRunFinished(at=13.0, job="1", node="a", attempt=1, state=NodeState.FINISHED))
    assert world.step() == [JobFinished(at=10.0, job="1", state=JobState.STOPPED)]
    job_events = [e.type for e in world.state.jobs["1"].events]
    assert job_events.count("job_stopping") == 1
