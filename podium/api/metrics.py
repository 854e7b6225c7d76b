"""GET /metrics: the Prometheus text format, from the folded state and the api's own counters.

State gauges are computed when scraped (they are what the log says, so every replica agrees);
request counters are this process's own. The token is required, as on every endpoint but
`/status`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable

from aiohttp import web

from podium.api.keys import JOBS, PROJECTOR
from podium.events.model import JobState, NodeState

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REQUESTS: web.AppKey[Counter[tuple[str, str, int]]] = web.AppKey("requests")


@web.middleware
async def count_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count answers by method, route and status (the route's pattern, not the path: ids would
    make every job a series of its own)."""
    response = await handler(request)
    route = request.match_info.route.resource
    pattern = route.canonical if route is not None else "unmatched"
    request.app[REQUESTS][(request.method, pattern, response.status)] += 1
    return response


async def metrics(request: web.Request) -> web.Response:
    state = request.app[PROJECTOR].state
    reader = request.app[JOBS]
    jobs = Counter(job.state.value for job in reader.memory_jobs())
    jobs.update(await reader.count_by_state())
    nodes: Counter[NodeState] = Counter()
    for name in state.active:
        nodes.update(state.jobs[name].counts)
    lines = [
        "# HELP podium_log_position Events folded from the log: the id of the last one.",
        "# TYPE podium_log_position gauge",
        f"podium_log_position {state.position}",
        "# HELP podium_jobs Jobs by state.",
        "# TYPE podium_jobs gauge",
        *(f'podium_jobs{{state="{s.value}"}} {jobs.get(s.value, 0)}' for s in JobState),
        "# HELP podium_active_nodes Nodes of jobs not yet ended, by node state.",
        "# TYPE podium_active_nodes gauge",
        *(f'podium_active_nodes{{state="{s.value}"}} {nodes.get(s, 0)}' for s in NodeState),
        "# HELP podium_runs_in_flight Node runs dispatched and not ended, over all jobs.",
        "# TYPE podium_runs_in_flight gauge",
        f"podium_runs_in_flight {state.inflight}",
        "# HELP podium_executors_lost_total Executors the scheduler has declared lost.",
        "# TYPE podium_executors_lost_total counter",
        f"podium_executors_lost_total {len(state.lost_executors)}",
        "# HELP podium_http_responses_total Answers of this api process.",
        "# TYPE podium_http_responses_total counter",
        *(
            f'podium_http_responses_total{{method="{m}",route="{r}",status="{s}"}} {n}'
            for (m, r, s), n in sorted(request.app[REQUESTS].items())
        ),
    ]
    return web.Response(text="\n".join(lines) + "\n", content_type="text/plain", charset="utf-8")
