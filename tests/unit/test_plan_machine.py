"""The plan executor's decisions, without a broker or a clock: a plan job folded from events,
`advance` asked what comes next, its events folded back, and the jobs it starts ended by the
events an executor would append."""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from podium.events.fold import fold, fold_all
from podium.events.jobspec import TaskJob
from podium.events.model import (
    Event,
    JobFinished,
    JobRequested,
    JobState,
    NodeRunDispatched,
    NodeRunFinished,
    NodeRunStarted,
    NodeState,
    PlanJobRequested,
    PlanResumed,
    PlanStepStarted,
    PlanStopRequested,
)
from podium.events.state import PlanJob, PlanState, State
from podium.inventory import parse_inventory
from podium.jsontypes import Json
from podium.plans.load import load_plan
from podium.plans.machine import advance

INVENTORY = parse_inventory(
    "config: {transport: sim}\ngroups:\n  - name: web\n    targets: [w1, w2]\n"
    "    config: {sim: {latency-ms: 0}}\n"
)
FLOW = """
parameters:
  targets: {type: TargetSpec}
steps:
  - name: first
    task: mod::echo
    targets: $targets
    parameters: {word: one}
  - message: "first said ${first.first.value['word']}"
  - name: second
    task: mod::echo
    targets: $targets
    parameters:
      word: $first[0].value['word']
return: $second.first.value
"""
TASKS: dict[str, Json] = {"mod::echo": {"parameters": None, "supports_noop": False}}


@dataclass
class World:
    """A plan job and its log, folded as the scheduler folds it."""

    sources: dict[str, str]
    params: dict[str, Json]
    state: State = field(default_factory=State)
    log: list[Event] = field(default_factory=list)
    now: float = 1000.0

    def __post_init__(self) -> None:
        root = next(iter(self.sources))
        self.append(
            [
                PlanJobRequested(
                    at=self.now,
                    request_id="r1",
                    owner="u1",
                    plan=root,
                    environment="production",
                    params=self.params,
                    sources=self.sources,
                    tasks=TASKS,
                )
            ]
        )

    def append(self, events: list[Event]) -> None:
        self.log.extend(events)
        for event in events:
            fold(self.state, event)

    def step(self) -> list[Event]:
        """Ask once, fold the answer."""
        self.now += 1
        job = self.state.plan_jobs["1"]
        plans = {name: load_plan(name, text) for name, text in job.sources.items()}
        events = advance(self.state, job, plans, INVENTORY, self.now)
        self.append(events)
        return events

    def end_job(self, name: str, results: dict[str, Json], ok: bool = True) -> None:
        """Every node of the job ends with its result, as an executor would report it."""
        job = self.state.jobs[name]
        events: list[Event] = []
        for node in job.nodes:
            events += [
                NodeRunDispatched(at=self.now, job=name, node=node, attempt=1),
                NodeRunStarted(at=self.now, job=name, node=node, attempt=1, executor="e1"),
                NodeRunFinished(
                    at=self.now,
                    job=name,
                    node=node,
                    attempt=1,
                    state=NodeState.FINISHED if ok else NodeState.FAILED,
                    result=results[node],
                ),
            ]
        self.append([*events, JobFinished(at=self.now, job=name, state=JobState.FINISHED)])

    @property
    def plan(self) -> PlanJob:
        return self.state.plan_jobs["1"]


def kinds(events: list[Event]) -> list[str]:
    return [type(e).__name__ for e in events]


def test_a_plan_starts_a_step_waits_for_its_job_and_carries_its_result_on() -> None:
    world = World({"ops::flow": FLOW}, {"targets": "web"})
    assert kinds(world.step()) == ["JobRequested", "PlanStepStarted"]
    requested = world.log[1]
    assert isinstance(requested, JobRequested)
    assert requested.nodes == ["w1", "w2"]  # the group, resolved against the inventory
    assert requested.spec.origin.plan_job == "1"
    assert world.step() == []  # waits for the job
    world.end_job("1", {"w1": {"word": "one"}, "w2": {"word": "one"}})
    events = world.step()
    assert kinds(events) == [
        "PlanStepFinished",
        "PlanStepStarted",
        "PlanStepFinished",
        "JobRequested",
        "PlanStepStarted",
    ]
    second = events[3]
    assert isinstance(second, JobRequested)
    assert isinstance(second.spec, TaskJob)
    assert second.spec.params == {"word": "one"}  # from the first step's result
    world.end_job("2", {"w1": {"word": "two"}, "w2": {"word": "two"}})
    assert kinds(world.step()) == ["PlanStepFinished", "PlanFinished"]
    assert (world.plan.state, world.plan.result) == (PlanState.SUCCESS, {"word": "two"})
    assert [e.type for e in world.plan.events] == [
        "task_start",
        "out_message",
        "task_start",
        "plan_finished",
    ]


def test_a_new_leader_folding_the_same_log_decides_the_same_and_never_repeats_a_step() -> None:
    world = World({"ops::flow": FLOW}, {"targets": "web"})
    world.step()
    world.end_job("1", {"w1": {"word": "one"}, "w2": {"word": "one"}})
    world.step()
    replayed = fold_all(world.log)  # a scheduler taking over folds the log from the start
    plans = {"ops::flow": load_plan("ops::flow", FLOW)}
    assert advance(replayed, replayed.plan_jobs["1"], plans, INVENTORY, world.now) == []
    assert len(replayed.jobs) == 2  # the first step's job was not requested again


def test_a_failed_step_fails_the_plan_and_a_resume_runs_it_again_from_that_step() -> None:
    world = World({"ops::flow": FLOW}, {"targets": "web"})
    world.step()
    world.end_job("1", {"w1": {"word": "one"}, "w2": {"word": "one"}})
    world.step()
    world.end_job("2", {"w1": {"_error": {"msg": "no"}}, "w2": {}}, ok=False)
    assert kinds(world.step()) == ["PlanStepFinished", "PlanFinished"]
    assert world.plan.state == PlanState.FAILURE
    assert world.plan.result["kind"] == "bolt/run-failure"
    assert world.plan.result["msg"] == "run_task 'mod::echo' failed on 2 targets"
    world.append([PlanResumed(at=world.now, plan_job="1", from_step=3)])
    assert (world.plan.state, world.plan.attempt, sorted(world.plan.steps)) == (
        PlanState.RUNNING,
        2,
        ["1", "2"],
    )
    events = world.step()
    assert kinds(events) == ["JobRequested", "PlanStepStarted"]  # step 3 only, again
    assert isinstance(events[0], JobRequested)
    assert isinstance(events[0].spec, TaskJob)
    assert events[0].spec.params == {"word": "one"}  # step 1's result, from the log
    world.end_job("3", {"w1": {"word": "again"}, "w2": {}})
    world.step()
    assert (world.plan.state, world.plan.result) == (PlanState.SUCCESS, {"word": "again"})


def test_a_stop_ends_the_plan_at_once_and_leaves_its_job_running() -> None:
    world = World({"ops::flow": FLOW}, {"targets": "web"})
    world.step()
    world.append([PlanStopRequested(at=world.now, plan_job="1")])
    assert kinds(world.step()) == ["PlanFinished"]
    assert world.plan.state == PlanState.FAILURE
    assert world.plan.result["kind"] == "puppetlabs.orchestrator/plan-stopped"
    assert world.state.jobs["1"].state == JobState.NEW  # /command/stop stops it
    assert world.step() == []


def test_an_evaluation_error_fails_the_plan_as_a_pal_error() -> None:
    plan = "parameters:\n  xs: {}\nsteps:\n  - name: x\n    eval: $xs[5]\nreturn: $x\n"
    world = World({"ops::bad": plan}, {"xs": [1]})
    assert kinds(world.step()) == ["PlanStepStarted", "PlanStepFinished", "PlanFinished"]
    assert world.plan.result["kind"] == "bolt/pal-error"
    assert "out of range" in world.plan.result["msg"]


def test_a_timeout_ends_the_plan() -> None:
    world = World({"ops::flow": FLOW}, {"targets": "web"})
    world.plan.timeout_s = 5  # as plan_run's `timeout` sets it
    world.step()
    world.now += 10
    assert kinds(world.step()) == ["PlanFinished"]
    assert world.plan.result["kind"] == "puppetlabs.orchestrator/plan-timeout"


@settings(max_examples=30, deadline=None)
@given(copies=st.lists(st.integers(0, 10), max_size=6))
def test_folding_copies_of_a_plans_events_changes_nothing(copies: list[int]) -> None:
    world = World({"ops::flow": FLOW}, {"targets": "web"})
    world.step()
    world.end_job("1", {"w1": {"word": "one"}, "w2": {"word": "one"}})
    world.step()
    stamped = [_stamped(event, seq) for seq, event in enumerate(world.log, start=1)]
    once = fold_all(stamped)
    again = fold_all(stamped + [stamped[i % len(stamped)] for i in copies])
    assert again.plan_jobs == once.plan_jobs
    assert again.position == once.position


def _stamped(event: Event, seq: int) -> Event:
    return msgspec.structs.replace(event, origin="p", seq=seq)


def test_a_started_step_of_an_old_attempt_is_ignored() -> None:
    world = World({"ops::flow": FLOW}, {"targets": "web"})
    world.append([PlanStepStarted(at=1, plan_job="1", step="9", attempt=7, action="eval")])
    assert "9" not in world.plan.steps
