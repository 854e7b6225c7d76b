"""Following a job's (or a plan job's) events: its SSE stream from the first event, resumed with
`Last-Event-ID` whenever the connection drops (a server restarting, a proxy cutting idle
streams), until its last event. No event is lost; the server gives none twice (a `Tally` would
count it once)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from podium.client.http import ApiClient, ApiError, ClientError

GIVE_UP_AFTER_S: Final = 120.0  # a server gone this long (no stream opens) is an error
RETRY_S: Final = (0.2, 0.5, 1.0, 2.0)  # waits between attempts, the last repeated
JOB_ENDS: Final = frozenset({"job_finished"})
PLAN_ENDS: Final = frozenset({"plan_finished", "plan_failed"})


@dataclass(slots=True)
class Resumed:
    """What the follower tells its caller when the stream dropped and it tries again."""

    after_event: int
    attempt: int
    reason: str


def job_events(
    client: ApiClient, job: str, on_resume: Callable[[Resumed], None] = lambda _: None
) -> AsyncIterator[dict[str, Any]]:
    """A job's events through its `job_finished`."""
    path = f"/orchestrator/v1/jobs/{job}/events"
    return events_until(client, path, JOB_ENDS, on_resume=on_resume)


def plan_job_events(
    client: ApiClient, plan_job: str, on_resume: Callable[[Resumed], None] = lambda _: None
) -> AsyncIterator[dict[str, Any]]:
    """A plan job's events through its `plan_finished` or `plan_failed`."""
    path = f"/orchestrator/v1/plan_jobs/{plan_job}/events"
    return events_until(client, path, PLAN_ENDS, on_resume=on_resume)


async def events_until(
    client: ApiClient,
    path: str,
    ends: frozenset[str],
    after_event: int = 0,
    on_resume: Callable[[Resumed], None] = lambda _: None,
    clock: Callable[[], float] = time.monotonic,
) -> AsyncIterator[dict[str, Any]]:
    """The events of the stream at `path` in the API's shape, after `after_event`, through
    the first of a type in `ends`. Raises ApiError for a refusal (an unknown job, say),
    ClientError when the server stays away longer than GIVE_UP_AFTER_S."""
    last, attempt, lost_since = after_event, 0, None
    while True:
        try:
            async for sse in client.events(path, last or None):
                event = msgspec.json.decode(sse.data)
                last, attempt, lost_since = max(last, int(event["id"])), 0, None
                yield event  # as it came: the caller counts an event given twice once
                if event["type"] in ends:
                    return
            reason = "the server ended the stream"
        except ApiError as exc:
            if exc.status < 500:  # the server answered, and said no
                raise
            reason = str(exc)
        except ClientError as exc:  # StreamBroken, or no answer at all
            reason = str(exc)
        lost_since = clock() if lost_since is None else lost_since
        if clock() - lost_since > GIVE_UP_AFTER_S:
            raise ClientError(f"lost the stream {path} after event {last}: {reason}")
        attempt += 1
        on_resume(Resumed(last, attempt, reason))
        await asyncio.sleep(RETRY_S[min(attempt, len(RETRY_S)) - 1])
