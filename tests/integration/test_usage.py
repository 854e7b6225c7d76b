"""GET /usage over real HTTP: node usage per day, from the whole log, for any past window."""

from __future__ import annotations

from datetime import UTC, datetime

from podium.engine import Engine
from podium.events.jobspec import DeployJob, JobOrigin, TaskJob
from podium.events.model import (
    Event,
    JobFinished,
    JobRequested,
    JobState,
    NodeRunDispatched,
    NodeRunFinished,
    NodeRunStarted,
    NodeState,
    Target,
)
from podium.jsontypes import Json
from tests.conftest import Api

ORCH = "puppetlabs.orchestrator"


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> float:
    return datetime(2025, 3, day, hour, minute, second, tzinfo=UTC).timestamp()


def ran(job: str, node: str, state: NodeState, when: float, **extra: Json) -> list[Event]:
    """A node run as the scheduler and an executor record it."""
    return [
        NodeRunDispatched(at=when - 2, job=job, node=node, attempt=1),
        NodeRunStarted(at=when - 1, job=job, node=node, attempt=1, executor="ex"),
        NodeRunFinished(at=when, job=job, node=node, attempt=1, state=state, **extra),
    ]


def requested(
    name: str, spec: DeployJob | TaskJob, owner: str, nodes: list[str], when: float
) -> JobRequested:
    return JobRequested(
        at=when,
        request_id=f"usage-{name}",
        owner=owner,
        spec=spec,
        nodes=nodes,
        targets=[Target("sim", {}, nodes)],
    )


def history(admin: str, other: str) -> list[list[Event]]:
    """Four jobs over three days of March 2025, one record each (named 1 to 4)."""
    deploy = DeployJob(environment="production")
    task = TaskJob(environment="production", task="testmod::echo")
    by_plan = TaskJob(environment="production", task="testmod::echo", origin=JobOrigin("7"))
    changed = {"status": "changed", "metrics": {"changed": 3, "corrective_change": 1}}
    failed = {"status": "failed", "metrics": {"changed": 1, "corrective_change": 0, "failed": 2}}
    return [
        [
            requested("1", deploy, admin, ["a", "b"], at(1, 10)),
            *ran("1", "a", NodeState.FINISHED, at(1, 10, 5), result=changed),
            *ran("1", "b", NodeState.FAILED, at(1, 23, 59, 59), result=failed),
            JobFinished(at=at(2, 0, 0, 1), job="1", state=JobState.FINISHED),
            # A report after the job ended: the fold ignores it, and so does usage.
            NodeRunFinished(at=at(3, 9), job="1", node="a", attempt=1, state=NodeState.FAILED),
        ],
        [
            requested("2", task, admin, ["a", "c", "z"], at(1, 11)),
            *ran("2", "a", NodeState.FINISHED, at(1, 11, 1)),
            *ran("2", "c", NodeState.ERRORED, at(1, 11, 2), reached=False),  # never reached
            NodeRunFinished(at=at(1, 11, 3), job="2", node="z", attempt=0, state=NodeState.SKIPPED),
            JobFinished(at=at(1, 11, 4), job="2", state=JobState.STOPPED),
        ],
        [
            requested("3", by_plan, admin, ["d"], at(3, 8)),
            *ran("3", "d", NodeState.FINISHED, at(3, 8, 1)),
            JobFinished(at=at(3, 8, 2), job="3", state=JobState.FINISHED),
        ],
        [
            requested("4", task, other, ["e"], at(3, 12)),
            *ran("4", "e", NodeState.FINISHED, at(3, 12, 1)),
            JobFinished(at=at(3, 12, 2), job="4", state=JobState.FINISHED),
        ],
    ]


def day(date: str, nodes: int, agent: int, **events: Json) -> Json:
    item: dict[str, Json] = {
        "date": date,
        "total_nodes": nodes,
        "nodes_with_agent": agent,
        "nodes_without_agent": nodes - agent,
    }
    return {**item, **events}


def counts(corrective: int, intentional: int, tasks: int, plans: int, jobs: Json) -> Json:
    return {
        "corrective_agent_changes": corrective,
        "intentional_agent_changes": intentional,
        "nodes_affected_by_task_runs": tasks,
        "nodes_affected_by_plan_runs": plans,
        "jobs": jobs,
    }


async def test_usage_counts_each_day_of_a_past_window_from_the_log(
    engine: Engine, api: Api
) -> None:
    other = await api.as_new_user("other", ["tasks:run:*"])
    assert engine.projector is not None
    logins = engine.projector.state.logins
    for record in history(logins["admin"], logins["other"]):
        await engine.adapters.event_log.append(record)
    await engine.projector.sync()
    assert engine.projector.state.job_count == 4  # ended, they are in the projection

    window = "start_date=2025-03-01&end_date=2025-03-03"
    answer = await api.ok(f"/usage?{window}")
    assert answer == {
        "items": [
            day("2025-03-03", 2, 0, **counts(0, 0, 1, 1, {"deploy": 0, "task": 1, "plan": 1})),
            day("2025-03-02", 0, 0, **counts(0, 0, 0, 0, {"deploy": 0, "task": 0, "plan": 0})),
            day("2025-03-01", 2, 2, **counts(1, 3, 1, 0, {"deploy": 1, "task": 1, "plan": 0})),
        ],
        "pagination": {"start_date": "2025-03-01", "end_date": "2025-03-03"},
    }
    bare = await api.ok(f"/usage?{window}&events=exclude")
    assert bare["items"] == [
        day("2025-03-03", 2, 0),
        day("2025-03-02", 0, 0),
        day("2025-03-01", 2, 2),
    ]
    # Without orchestrator:view, a user's own jobs only.
    own = await other.ok(f"/usage?{window}&events=exclude")
    assert own["items"] == [
        day("2025-03-03", 1, 0),
        day("2025-03-02", 0, 0),
        day("2025-03-01", 0, 0),
    ]
    one_day = await api.ok("/usage?start_date=2025-03-02&end_date=2025-03-02")
    assert [item["date"] for item in one_day["items"]] == ["2025-03-02"]


async def test_todays_usage_counts_the_runs_of_a_job_run_now(api: Api) -> None:
    await api.wait_job(await api.run_task(["n-01", "n-02"]))
    answer = await api.ok("/usage")
    today = datetime.now(UTC).date().isoformat()
    assert answer["pagination"] == {"start_date": None, "end_date": None}
    assert len(answer["items"]) == 30
    assert answer["items"][0] == day(
        today, 2, 0, **counts(0, 0, 2, 0, {"deploy": 0, "task": 1, "plan": 0})
    )
    assert all(item["total_nodes"] == 0 for item in answer["items"][1:])


async def test_bad_windows_are_validation_errors(api: Api) -> None:
    for query in (
        "start_date=2025-3-1",
        "end_date=yesterday",
        "start_date=2025-02-30",
        "start_date=2025-03-02&end_date=2025-03-01",
        "start_date=1900-01-01&end_date=2025-01-01",
        "events=maybe",
        "start_date=" + "9" * 5000,
    ):
        status, answer = await api.get(f"/usage?{query}")
        assert (status, answer["kind"], set(answer)) == (
            400,
            f"{ORCH}/validation-error",
            {"kind", "msg", "details"},
        ), query
