"""GET /jobs/<a>/diff/<b>: how two runs of a job kind differ, node by node.

A node differs when its state does, or its outcome: for a deploy the Puppet run's `status` and
`metrics`, for a task its `result` (as reads show it: sensitive values hidden). Nodes that only
one of the jobs ran are listed too, all by node name. `job_diff` is pure; the handler only
finds the jobs.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from aiohttp import web

from podium.api.chunked import STREAM_FROM
from podium.api.errors import ValidationError
from podium.api.jobs import visible_job
from podium.api.keys import JOBS, PROJECTOR, USER, base_url
from podium.api.params import path_id
from podium.api.views import WITH_RESULT, job_url
from podium.events.render import redacted_result
from podium.events.state import Job, NodeRun
from podium.jsontypes import Json

Difference = Literal["differ", "only_a", "only_b"]


async def diff_jobs(request: web.Request) -> web.Response:
    """GET /jobs/<a>/diff/<b>"""
    names = path_id(request, "a"), path_id(request, "b")
    state, user, reader = request.app[PROJECTOR].state, request[USER], request.app[JOBS]
    a, b = [await visible_job(reader, state, user, name, nodes=True) for name in names]
    if a.kind != b.kind:
        raise ValidationError(
            f"Job {a.name} is a {a.kind} and job {b.name} a {b.kind}: only jobs of one kind "
            "can be compared",
            jobs=[a.name, b.name],
        )
    base = base_url(request)
    if len(a.nodes) + len(b.nodes) >= STREAM_FROM:  # long enough to hold the loop
        return web.json_response(await asyncio.to_thread(job_diff, a, b, base))
    return web.json_response(job_diff(a, b, base))


def job_diff(a: Job, b: Job, base: str) -> dict[str, Json]:
    """Every node that differs or that only one job ran, by node name, with counts."""
    items: list[Json] = []
    counts = {"same": 0, "differ": 0, "only_a": 0, "only_b": 0}
    for name in sorted(a.nodes.keys() | b.nodes.keys()):
        left, right = a.nodes.get(name), b.nodes.get(name)
        was = None if left is None else node_outcome(a, left)
        now = None if right is None else node_outcome(b, right)
        if was is None or now is None:
            difference: Difference = "only_b" if was is None else "only_a"
            differing = list(now or was or {})
        else:
            differing = [key for key in was if was[key] != now[key]]
            if not differing:
                counts["same"] += 1
                continue
            difference = "differ"
        counts[difference] += 1
        items.append(
            {"node": name, "difference": difference, "fields": differing, "a": was, "b": now}
        )
    return {
        "a": {"id": job_url(base, a.name), "name": a.name},
        "b": {"id": job_url(base, b.name), "name": b.name},
        "type": a.kind,
        "counts": counts,
        "items": items,
    }


def node_outcome(job: Job, run: NodeRun) -> dict[str, Json]:
    """What is compared: the state, and a deploy's status and metrics or a task's result."""
    result = redacted_result(run.result) if run.state in WITH_RESULT else None
    if job.kind == "deploy":
        report = result if isinstance(result, dict) else {}
        return {
            "state": run.state.value,
            "status": report.get("status"),
            "metrics": report.get("metrics"),
        }
    return {"state": run.state.value, "result": result}
