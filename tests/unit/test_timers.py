"""The timers and the fold of schedules, driven by a fake clock: no broker, no sleeping."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import msgspec

from podium.events.fold import fold, fold_all
from podium.events.jobspec import JobOrigin, PlanRun, TaskJob
from podium.events.model import (
    Event,
    JobFinished,
    JobRequested,
    JobState,
    PlanFinished,
    PlanJobRequested,
    ScheduleChanged,
    ScheduleCreated,
    ScheduleFired,
    ScheduleMissed,
    ScheduleRunRefused,
    ScheduleSkipped,
    Target,
)
from podium.events.schedules import fired_request_id
from podium.events.state import State
from podium.scheduler.timers import Timers, timer_events

START = 1_800_000_000.0  # 2027-01-15T08:00:00Z
SPEC = TaskJob(environment="production", task="mod::t")


def created(start: float = START, interval_s: int | None = 60, request_id: str = "r1") -> Event:
    return ScheduleCreated(
        at=START - 100, request_id=request_id, owner="u1", spec=SPEC, start=start,
        interval_s=interval_s,
    )  # fmt: skip


def made(state: State, schedule: str, occurrence: float, at: float) -> JobRequested:
    """The job an api makes for a fired occurrence."""
    origin = JobOrigin(scheduled_job_id=schedule)
    return JobRequested(
        at=at,
        request_id=fired_request_id(schedule, occurrence),
        owner="u1",
        spec=msgspec.structs.replace(SPEC, origin=origin),
        nodes=["n1"],
        targets=[Target("sim", {}, ["n1"])],
    )


@dataclass
class World:
    """A log folded as it grows, a scheduler that may be away, an api that makes each fired
    occurrence's job, and jobs that take `run_s` to end."""

    run_s: float = 1.0
    state: State = field(default_factory=State)
    log: list[Event] = field(default_factory=list)
    timers: Timers = field(default_factory=Timers)
    ends: dict[str, float] = field(default_factory=dict)  # job -> when it ends

    def append(self, *events: Event) -> None:
        for event in events:
            self.log.append(event)
            fold(self.state, event)

    def tick(self, now: float, scheduler_up: bool = True) -> None:
        for job, end in list(self.ends.items()):
            if end <= now:
                self.append(JobFinished(at=now, job=job, state=JobState.FINISHED))
                del self.ends[job]
        if scheduler_up:
            self.append(*self.timers.due(self.state, now))
        for request_id, schedule in list(self.state.fired.items()):
            occurrence = self.state.schedules[schedule].pending
            assert occurrence is not None
            assert request_id == fired_request_id(schedule, occurrence)
            self.append(made(self.state, schedule, occurrence, now))
            self.ends[self.state.requests[request_id]] = now + self.run_s

    def fired(self) -> list[float]:
        return [e.occurrence for e in self.log if isinstance(e, ScheduleFired)]

    def jobs_of(self, schedule: str) -> list[str]:
        return [
            name
            for name, job in self.state.jobs.items()
            if job.spec.origin.scheduled_job_id == schedule
        ]


def test_a_schedule_fires_every_occurrence_once_over_three_months() -> None:
    world = World(run_s=1.0)  # each run ends before the next tick
    world.append(created(interval_s=600))
    rng = random.Random(13)
    now = START - 30
    end = START + 90 * 86_400
    while now < end:
        world.tick(now)
        now += rng.choice([2.5, 10.0, 70.0, 599.0, 600.0])  # uneven, at most one interval
    fired = world.fired()
    assert fired == [START + 600 * k for k in range(len(fired))]  # each once, in order, on time
    assert len(fired) == 90 * 144
    assert len(world.jobs_of("1")) == len(fired)
    assert world.state.schedules["1"].missed == 0


def test_after_downtime_the_missed_occurrences_fire_once_and_the_schedule_resumes_on_its_grid() -> (
    None
):
    world = World()
    world.append(created())
    for now in (START, START + 60, START + 120):
        world.tick(now)
    for now in range(int(START) + 121, int(START) + 3600, 5):  # the scheduler is away ~58 min
        world.tick(float(now), scheduler_up=False)
    world.tick(START + 3605.5)  # a new leader
    world.tick(START + 3660.5)
    missed = [e for e in world.log if isinstance(e, ScheduleMissed)]
    assert world.fired() == [START, START + 60, START + 120, START + 3600, START + 3660]
    assert [(e.first, e.last, e.count) for e in missed] == [(START + 180, START + 3540, 57)]
    schedule = world.state.schedules["1"]
    assert (schedule.fired, schedule.missed, schedule.skipped) == (5, 57, 0)


def test_an_occurrence_fired_twice_by_two_schedulers_makes_one_job() -> None:
    world = World()
    world.append(created())
    first = timer_events(world.state, START + 1)
    second = timer_events(world.state, START + 1)  # the old leader, a moment before it knew
    assert first == second
    world.append(*first, *second)
    world.tick(START + 2)
    world.append(made(world.state, "1", START, START + 3))  # a second api replica's job
    assert world.fired() == [START, START]
    assert world.state.schedules["1"].fired == 1
    assert len(world.jobs_of("1")) == 1
    assert world.state.position == len(world.log)  # the copies still count as log positions


def test_a_run_still_going_at_the_next_occurrence_skips_it() -> None:
    world = World(run_s=150.0)
    world.append(created())
    for now in range(int(START), int(START) + 400, 10):
        world.tick(float(now))
    skipped = [e.occurrence for e in world.log if isinstance(e, ScheduleSkipped)]
    assert world.fired() == [START, START + 180, START + 360]
    assert skipped == [START + 60, START + 120, START + 240, START + 300]
    assert all(e.previous_job for e in world.log if isinstance(e, ScheduleSkipped))


def test_a_refused_run_is_the_last_run_and_the_schedule_goes_on() -> None:
    state = fold_all([created(), ScheduleFired(at=START, schedule="1", occurrence=START)])
    refusal = ScheduleRunRefused(
        at=START, schedule="1", occurrence=START, kind="puppetlabs.orchestrator/not-permitted",
        msg="no", details={},
    )  # fmt: skip
    fold(state, refusal)
    fold(state, made(state, "1", START, START))  # too late: its occurrence was refused
    schedule = state.schedules["1"]
    assert schedule.last_run is not None
    assert schedule.last_run.error is not None
    assert schedule.last_run.error["kind"] == "puppetlabs.orchestrator/not-permitted"
    assert not state.jobs
    assert schedule.pending is None
    assert [type(e) for e in timer_events(state, START + 60)] == [ScheduleFired]


def test_a_job_for_an_occurrence_never_fired_is_ignored() -> None:
    state = fold_all([created()])
    fold(state, made(state, "1", START, START))
    assert not state.jobs


def test_a_disabled_schedule_never_fires_and_a_one_off_fires_once() -> None:
    state = fold_all([created(), created(START + 10, None, "r2")])
    fold(state, ScheduleChanged(at=START, schedule="1", spec=SPEC, start=START,
                                interval_s=60, enabled=False))  # fmt: skip
    timers = Timers()
    assert timers.wakeup(state) == START + 10
    events = timers.due(state, START + 500)
    assert events == [ScheduleFired(at=START + 500, schedule="2", occurrence=START + 10)]
    fold(state, events[0])
    fold(state, made(state, "2", START + 10, START + 500))
    assert timers.wakeup(state) is None
    assert timers.due(state, START + 10**6) == []


def test_the_timers_look_at_no_schedule_before_the_earliest_is_due() -> None:
    state = fold_all([created(START + 3600), created(START + 60, 60, "r2")])
    timers = Timers()
    assert timers.due(state, START) == []
    assert timers.wakeup(state) == START + 60
    assert timers.due(state, START + 60) == [
        ScheduleFired(at=START + 60, schedule="2", occurrence=START + 60)
    ]


def test_creating_a_schedule_twice_with_one_request_id_makes_one() -> None:
    state = fold_all([created(), created()])
    assert list(state.schedules) == ["1"]


def test_a_plan_schedule_makes_one_plan_job_and_skips_while_it_runs() -> None:
    run = PlanRun(environment="production", plan="mod::p")
    plan_created = ScheduleCreated(
        at=START - 100, request_id="rp", owner="u1", spec=run, start=START, interval_s=60
    )
    state = fold_all([plan_created, ScheduleFired(at=START, schedule="1", occurrence=START)])
    request = PlanJobRequested(
        at=START, request_id=fired_request_id("1", START), owner="u1", plan="mod::p",
        environment="production", scheduled_job_id="1",
    )  # fmt: skip
    fold(state, request)
    fold(state, msgspec.structs.replace(request, origin="another-api", seq=1))  # a second one
    assert list(state.plan_jobs) == ["1"]
    assert state.plan_jobs["1"].scheduled_job_id == "1"
    last = state.schedules["1"].last_run
    assert last is not None
    assert (last.plan_job, last.job) == ("1", None)
    skipped = timer_events(state, START + 60)
    assert [type(e) for e in skipped] == [ScheduleSkipped]
    fold_all(skipped, state)
    fold(state, PlanFinished(at=START + 61, plan_job="1", attempt=1, ok=True))
    assert [type(e) for e in timer_events(state, START + 120)] == [ScheduleFired]
