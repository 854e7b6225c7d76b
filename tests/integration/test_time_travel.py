"""GET /jobs/<id>?as_of= and /jobs/<id>/nodes?as_of=: answers recorded while a job ran, each
at the log position it was read at, are given again once the job has ended."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from podium.api.keys import JOBS
from podium.engine import Engine
from podium.jsontypes import Json
from tests.conftest import Api, running

ORCH = "puppetlabs.orchestrator"
NODES = ["p-1", "p-2", "p-3", "p-4", "bad-1"]


def paced_inventory(path: Path) -> Path:
    """Sim nodes that take a moment each, and one that always fails."""
    inventory = {
        "version": 2,
        "config": {"transport": "sim"},
        "groups": [
            {"name": "paced", "targets": NODES[:4], "config": {"sim": {"latency-ms": 150}}},
            {"name": "bad", "targets": ["bad-1"], "config": {"sim": {"failure-rate": 1.0}}},
        ],
    }
    path.write_text(json.dumps(inventory))
    return path


def settled(answer: Json) -> Json:
    """An answer without what depends on the moment it is read: the duration of what is still
    running and a running node's run-time (as_of takes them at the event's time)."""
    if isinstance(answer, dict):
        if (
            answer.get("finished_timestamp", "") is None
            or answer.get("finish_timestamp", "") is None
        ):
            answer = {key: value for key, value in answer.items() if key != "duration"}
        return {
            key: settled(value)
            for key, value in answer.items()
            if not (key == "details" and isinstance(value, dict) and "run-time" in value)
        }
    if isinstance(answer, list):
        return [settled(item) for item in answer]
    return answer


async def record_while_running(engine: Engine, api: Api, name: str) -> dict[int, tuple[Json, Json]]:
    """Answers read when nothing was folded between the first read and the last, by the log
    position they show."""
    assert engine.projector is not None
    recorded: dict[int, tuple[Json, Json]] = {}
    async with asyncio.timeout(30):
        while True:
            before = engine.projector.state.position
            job = await api.ok(f"/jobs/{name}")
            nodes = await api.ok(f"/jobs/{name}/nodes")
            if engine.projector.state.position == before:
                recorded[before] = (job, nodes)
                if job["state"] in ("finished", "failed", "stopped"):
                    return recorded  # the last answer, once nothing moved while reading it
            await asyncio.sleep(0.01)


async def test_answers_as_of_an_event_are_those_given_just_after_it(tmp_path: Path) -> None:
    inventory = paced_inventory(tmp_path / "inventory.yaml")
    async with running(tmp_path / "data", inventory=inventory) as (engine, api):
        name = await api.run_task(NODES, concurrency=1)
        recorded = await record_while_running(engine, api, name)
        node_states = {
            json.dumps(job["node_states"], sort_keys=True) for job, _ in recorded.values()
        }
        assert len(node_states) >= 3, recorded  # new, part-way and ended were all seen
        assert {job["state"] for job, _ in recorded.values()} >= {"running", "finished"}
        for position, (job, nodes) in sorted(recorded.items()):
            then = await api.ok(f"/jobs/{name}?as_of={position}")
            then_nodes = await api.ok(f"/jobs/{name}/nodes?as_of={position}")
            assert settled(then) == settled(job), position
            assert settled(then_nodes) == settled(nodes), position
        last = max(recorded)
        assert await api.ok(f"/jobs/{name}?as_of={last}") == recorded[last][0]  # ended: exact


async def test_as_of_refuses_events_not_on_the_log_and_jobs_not_made_yet(
    engine: Engine, api: Api
) -> None:
    first = await api.run_task(["n-01"])
    await api.wait_job(first)
    second = await api.run_task(["n-02"])
    await api.wait_job(second)
    ended = await engine.api.app[JOBS].head(second)  # ended jobs are in the projection
    assert ended is not None
    created = ended.created_position
    for path, status, kind in (
        (f"/jobs/{second}?as_of=0", 400, "validation-error"),
        (f"/jobs/{second}?as_of=x", 400, "validation-error"),
        (f"/jobs/{second}/nodes?as_of=-3", 400, "validation-error"),
        (f"/jobs/{second}?as_of=99999999", 400, "validation-error"),
        (f"/jobs/{second}?as_of={created - 1}", 404, "unknown-job"),
        (f"/jobs/{second}/nodes?as_of={created - 1}", 404, "unknown-job"),
        ("/jobs/999?as_of=1", 404, "unknown-job"),
    ):
        got, answer = await api.get(path)
        assert (got, answer["kind"], set(answer)) == (
            status,
            f"{ORCH}/{kind}",
            {"kind", "msg", "details"},
        ), path
    at_creation = await api.ok(f"/jobs/{second}?as_of={created}")
    assert (at_creation["state"], at_creation["node_states"]) == ("new", {"new": 1})
    stranger = await api.as_new_user("stranger", ["tasks:run:*"])
    got, answer = await stranger.get(f"/jobs/{first}?as_of={created}")
    assert (got, answer["kind"]) == (403, f"{ORCH}/not-permitted")
