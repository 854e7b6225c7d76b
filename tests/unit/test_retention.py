"""Retention as events: when the scheduler prunes (`prune_due`), what the fold forgets
(`JobsPruned`), and that job names and event ids never repeat afterwards."""

from __future__ import annotations

from podium.events.fold import fold_all
from podium.events.model import (
    Event,
    JobFinished,
    JobReady,
    JobsPruned,
    JobState,
    NodeRunDispatched,
    NodeRunFinished,
    NodeState,
    PlanFinished,
    PlanJobRequested,
)
from podium.events.state import State
from podium.scheduler.decide import prune_due
from tests.builders import job_requested, stamp

DAY = 86_400.0


def _job(number: int, at: float, *, ends: bool = True) -> list[Event]:
    name = str(number)
    events: list[Event] = [
        job_requested(["a"], request_id=f"r-{number}", at=at),
        JobReady(at=at, job=name),
        NodeRunDispatched(at=at, job=name, node="a", attempt=1),
    ]
    if ends:
        events += [
            NodeRunFinished(at=at + 1, job=name, node="a", attempt=1, state=NodeState.FINISHED),
            JobFinished(at=at + 2, job=name, state=JobState.FINISHED),
        ]
    return events


def test_pruning_forgets_the_jobs_that_ended_before_the_horizon_and_nothing_else() -> None:
    history = [*_job(1, 0.0), *_job(2, 10 * DAY), *_job(3, 1.0, ends=False)]
    state = fold_all(stamp([*history, JobsPruned(at=40 * DAY, before=5 * DAY)]))
    assert list(state.jobs) == ["2", "3"]  # 1 ended before; 3 never ended
    assert state.pruned_before == 5 * DAY


def test_names_and_event_ids_go_on_after_pruning() -> None:
    history = [*_job(1, 0.0), *_job(2, 1.0)]
    state = fold_all(stamp([*history, JobsPruned(at=40 * DAY, before=30 * DAY)]))
    assert state.jobs == {}
    position = state.position
    fold_all(stamp(_job(3, 41 * DAY), first_seq=len(history) + 2), state)
    job = state.jobs["3"]  # the third job requested, although no job is held
    assert job.created_position == position + 1
    assert [event.id for event in job.events] == [position + 4, position + 5]


def test_an_older_or_equal_horizon_changes_nothing() -> None:
    history = [*_job(1, 0.0), JobsPruned(at=DAY, before=0.5), JobsPruned(at=DAY, before=0.25)]
    state = fold_all(stamp(history))
    assert state.pruned_before == 0.5
    assert list(state.jobs) == ["1"]  # it ended at 2.0, after both horizons


def test_the_scheduler_prunes_once_the_log_is_older_than_the_retention() -> None:
    state = State(position=10, began_at=100 * DAY)  # a log begun 100 days in
    assert prune_due(state, 110 * DAY, 30 * DAY, 3600.0) is None  # nothing can be that old
    due = prune_due(state, 131 * DAY, 30 * DAY, 3600.0)
    assert due is not None
    assert due.before == 101 * DAY
    fold_all(stamp([due]), state)
    assert prune_due(state, 131 * DAY + 1800.0, 30 * DAY, 3600.0) is None  # within the hour
    again = prune_due(state, 131 * DAY + 3600.0, 30 * DAY, 3600.0)
    assert again is not None
    assert again.before == 101 * DAY + 3600.0


def test_a_retried_request_is_folded_once_until_a_pruning_horizon_passes_it() -> None:
    """Request ids are kept for de-duplication until the horizon of a pruning passes the
    pruning before them; a live job's stays as long as it runs."""
    history = [*_job(1, 0.0), *_job(2, 1.0, ends=False), JobsPruned(at=2 * DAY, before=0.5)]
    state = fold_all(stamp(history))
    retried = job_requested(["a"], request_id="r-1", at=2 * DAY)  # the same command again
    fold_all(stamp([retried], origin="api-2"), state)
    assert state.job_count == 2  # de-duplicated
    assert state.requests == {"r-1": "1", "r-2": "2"}
    # A horizon past the first pruning: what was requested before it, and has ended, goes
    fold_all(
        stamp([*_job(3, 3 * DAY), JobsPruned(at=40 * DAY, before=10 * DAY)], first_seq=20), state
    )
    assert state.requests == {"r-2": "2", "r-3": "3"}  # job 2 still runs
    assert [mark.at for mark in state.request_marks] == [40 * DAY]
    fold_all(
        stamp([JobFinished(at=41 * DAY, job="2", state=JobState.FINISHED)], first_seq=40), state
    )
    fold_all(stamp([JobsPruned(at=80 * DAY, before=50 * DAY)], first_seq=41), state)
    assert state.requests == {}
    fold_all(stamp([retried], origin="api-3"), state)  # after a whole retention period
    assert state.job_count == 4  # a new job: the old request id was forgotten
    assert state.requests == {"r-1": "4"}


def test_plan_request_ids_are_forgotten_the_same_way() -> None:
    requested = PlanJobRequested(at=0.0, request_id="p-1", owner="u", plan="m", environment="e")
    ended = PlanFinished(at=1.0, plan_job="1", attempt=1, ok=True)
    history: list[Event] = [requested, ended, JobsPruned(at=DAY, before=0.5)]
    state = fold_all(stamp([*history, JobsPruned(at=40 * DAY, before=10 * DAY)]))
    assert state.plan_requests == {}
    assert state.plan_jobs == {}  # ended before the horizon: pruned
    fold_all(stamp([requested], origin="again"), state)
    assert list(state.plan_jobs) == ["2"]  # named after the pruned one
