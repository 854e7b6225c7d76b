"""GET /usage: node usage per day, as the orchestrator documents it, from the whole log.

The log is folded again from its start (`podium.events.replay`), and each node run the fold
ends is counted on the UTC day it ended: so any past window is answered, also for jobs the read
model no longer holds. A node is used on a day when a run of it started and ended that day's
way (finished, failed or errored; not skipped, and not a run that could not reach it).

What the orchestrator's keys mean here: `nodes_with_agent` are the nodes used that day that
had a Puppet run (a deploy), `nodes_without_agent` the others; `corrective_agent_changes` and
`intentional_agent_changes` add up the Puppet runs' `corrective_change` and their other
`changed` resources; `nodes_affected_by_task_runs` and `..._plan_runs` count node runs of
tasks and of jobs a plan started. `jobs` (a Podium addition) counts the deploys, tasks and
plans that ran on a node that day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Final

from aiohttp import web

from podium.api.errors import ValidationError
from podium.api.keys import CLOCK, PROJECTOR, USER
from podium.api.params import choice_param
from podium.api.replays import replay_log
from podium.events.model import Event, NodeRunFinished, NodeState
from podium.events.ports import Record
from podium.events.state import Job, State
from podium.jsontypes import Json
from podium.rbac.decide import holds
from podium.rbac.permissions import ORCHESTRATOR_VIEW

DATE: Final = re.compile(r"\A\d{4}-\d{2}-\d{2}\Z")
EPOCH: Final = date(1970, 1, 1)
DAY_S: Final = 86_400
DEFAULT_DAYS: Final = 30
MAX_DAYS: Final = 3660  # ten years of items at most in one answer
KINDS: Final = ("deploy", "task", "plan")


@dataclass
class Day:
    """What one day's node runs added up to."""

    nodes: set[str] = field(default_factory=set)
    agent_nodes: set[str] = field(default_factory=set)
    corrective: int = 0
    intentional: int = 0
    runs: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    jobs: dict[str, set[str]] = field(default_factory=lambda: {kind: set() for kind in KINDS})


@dataclass
class Usage:
    """An observer of a replay: counts each node run the fold ends inside [first, last],
    of the jobs `owner` owns (every job when `owner` is None)."""

    first: date
    last: date
    owner: str | None = None
    days: dict[date, Day] = field(default_factory=dict)

    def __call__(self, state: State, event: Event, _record: Record) -> None:
        if not isinstance(event, NodeRunFinished) or event.state == NodeState.SKIPPED:
            return
        job = state.jobs.get(event.job)
        run = None if job is None else job.nodes.get(event.node)
        if job is None or run is None or run.latest_event != state.position:
            return  # the fold did not end the run with this event (a late or stale report)
        if run.started_at is None or event.reached is False:
            return  # never ran on its node
        if self.owner is not None and job.owner != self.owner:
            return
        day = EPOCH + timedelta(days=int(event.at // DAY_S))  # its UTC day
        if self.first <= day <= self.last:
            self._count(self.days.setdefault(day, Day()), job, event)

    @staticmethod
    def _count(day: Day, job: Job, event: NodeRunFinished) -> None:
        kind = "plan" if job.spec.origin.plan_job is not None else job.kind
        day.nodes.add(event.node)
        day.runs[kind] += 1
        day.jobs[kind].add(job.spec.origin.plan_job or job.name)
        if job.kind == "deploy":
            day.agent_nodes.add(event.node)
            corrective, changed = _changes(event.result)
            day.corrective += corrective
            day.intentional += max(0, changed - corrective)


def _changes(result: Json) -> tuple[int, int]:
    """A Puppet run's corrective and changed resources, 0 where its report says nothing."""
    metrics = result.get("metrics") if isinstance(result, dict) else None
    if not isinstance(metrics, dict):
        return 0, 0
    counts = [metrics.get(key) for key in ("corrective_change", "changed")]
    corrective, changed = (
        c if isinstance(c, int) and not isinstance(c, bool) else 0 for c in counts
    )
    return corrective, changed


async def usage(request: web.Request) -> web.Response:
    """GET /usage?start_date=&end_date=&events=include|exclude"""
    given = {key: request.query.get(key) for key in ("start_date", "end_date")}
    today = datetime.fromtimestamp(request.app[CLOCK](), UTC).date()
    first, last = window(given["start_date"], given["end_date"], today)
    with_events = choice_param(request, "events", ("include", "exclude"), "include") == "include"
    state, user = request.app[PROJECTOR].state, request[USER]
    counted = Usage(first, last, None if holds(state, user, ORCHESTRATOR_VIEW) else user)
    await replay_log(request, state.position, counted)
    items = [day_item(day, counted.days.get(day), with_events) for day in _days(last, first)]
    return web.json_response({"items": items, "pagination": given})


def window(start: str | None, end: str | None, today: date) -> tuple[date, date]:
    """The days asked for: `end_date` defaults to today (or `start_date`, if later),
    `start_date` to 30 days before the end. Raises ValidationError."""
    first = None if start is None else _date("start_date", start)
    last = None if end is None else _date("end_date", end)
    if last is None:
        last = today if first is None else max(today, first)
    if first is None:
        first = last - timedelta(days=DEFAULT_DAYS - 1)
    if last < first:
        raise ValidationError(
            f"end_date ({last}) must be on or after start_date ({first})",
            start_date=str(first),
            end_date=str(last),
        )
    if (last - first).days >= MAX_DAYS:
        raise ValidationError(f"A window of at most {MAX_DAYS} days can be asked for at once")
    return first, last


def _date(name: str, raw: str) -> date:
    try:
        if DATE.match(raw):
            return date.fromisoformat(raw)
    except ValueError:
        pass
    shown = raw if len(raw) <= 40 else f"{raw[:40]}..."
    raise ValidationError(f"{name} must be a date as YYYY-MM-DD, not {shown!r}", value=shown)


def _days(last: date, first: date) -> list[date]:
    """Newest first, as the orchestrator lists them."""
    return [last - timedelta(days=n) for n in range((last - first).days + 1)]


def day_item(day: date, counted: Day | None, with_events: bool) -> dict[str, Json]:
    counted = counted or Day()
    total, with_agent = len(counted.nodes), len(counted.agent_nodes)
    item: dict[str, Json] = {
        "date": day.isoformat(),
        "total_nodes": total,
        "nodes_with_agent": with_agent,
        "nodes_without_agent": total - with_agent,
    }
    if with_events:
        item["corrective_agent_changes"] = counted.corrective
        item["intentional_agent_changes"] = counted.intentional
        item["nodes_affected_by_task_runs"] = counted.runs["task"]
        item["nodes_affected_by_plan_runs"] = counted.runs["plan"]
        item["jobs"] = {kind: len(names) for kind, names in counted.jobs.items()}
    return item
