"""Job events as clients see them: one shape for the HTTP API, its event streams and the AMQP
topic mirror."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Final

from podium.events.ports import Record
from podium.events.state import Job, JobEvent, State
from podium.jsontypes import Json

WHAT: Final = {"task": "task", "deploy": "puppet"}
REDACTED: Final = "Sensitive [value redacted]"


def iso(ts: float | None) -> str | None:
    """Whole-second ISO-8601 UTC, as the orchestrator writes timestamps."""
    if ts is None:
        return None
    return _iso_second(int(ts))


@lru_cache(maxsize=4096)
def _iso_second(second: int) -> str:
    """Answers name the same seconds over and over (a job's events, a page's jobs): formatting
    one with strftime was a tenth of a GET /jobs page's time."""
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def job_event(job: Job, event: JobEvent) -> dict[str, Json]:
    if event.node is None:
        details: dict[str, Json] = event.detail
    else:
        details = {"node": event.node, "detail": redacted_result(event.detail)}
    return {
        "id": str(event.id),
        "type": event.type,
        "timestamp": iso(event.at),
        "details": details,
        "message": event.message or event_message(job, event.type, event.node),
    }


def redacted_result(result: Json) -> Json:
    """A task result with its top-level `_sensitive` value hidden (task specification); the
    log keeps it."""
    if isinstance(result, dict) and "_sensitive" in result:
        return {**result, "_sensitive": REDACTED}
    return result


def event_message(job: Job, kind: str, node: str | None) -> str:
    what = WHAT[job.kind]
    match kind:
        case "node_running":
            return f"Started {what} run on {node}"
        case "node_finished":
            return f"Finished {what} run on {node}"
        case "node_failed":
            return f"Failed {what} run on {node}"
        case "node_errored":
            return f"Error running {what} on {node}"
        case "node_skipped":
            return f"Skipped {what} run on {node}"
        case "job_stopping":
            return f"Stopping job {job.name}"
        case "job_aborted":
            return f"Job {job.name} aborted"
        case _:
            return f"Job {job.name} {job.state.value}"


def new_job_events(record: Record, state: State, after: int) -> list[tuple[Job, JobEvent]]:
    """The job events folding `record` added (ids above `after`), job by job, oldest first."""
    added: list[tuple[Job, JobEvent]] = []
    for name in dict.fromkeys(getattr(event, "job", None) for event in record.events):
        job = state.jobs.get(name) if isinstance(name, str) else None
        if job is None:
            continue
        start = len(job.events)
        while start and job.events[start - 1].id > after:
            start -= 1
        added.extend((job, event) for event in job.events[start:])
    return added
