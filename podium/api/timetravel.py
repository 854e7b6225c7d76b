"""`?as_of=<event id>` on GET /jobs/<id> and /jobs/<id>/nodes: the job exactly as it was just
after that event, from the log folded again up to it (the live state is not touched).

Times that depend on when one looks (`duration` of a running job or node, `run-time`) are taken
at that event's time.
"""

from __future__ import annotations

from aiohttp import web

from podium.api.errors import UnknownJob, ValidationError
from podium.api.keys import PROJECTOR
from podium.api.replays import replay_log
from podium.events.model import Event
from podium.events.ports import Record
from podium.events.state import Job, State


async def job_as_of(request: web.Request, name: str, as_of: int) -> tuple[State, Job, float]:
    """The state after event `as_of`, the job in it and that event's time. Raises
    ValidationError for an event not on the log yet, UnknownJob for a job made after it."""
    position = request.app[PROJECTOR].state.position
    if as_of > position:
        raise ValidationError(
            f"as_of {as_of} is past the log's last event ({position})",
            as_of=as_of,
            position=position,
        )
    last = LastTime()
    state = await replay_log(request, as_of, last)
    job = state.jobs.get(name)
    if job is None:
        raise UnknownJob(f"No job named {name} as of event {as_of}", job=name, as_of=as_of)
    return state, job, last.at


class LastTime:
    """An observer of a replay: the time of the last event applied."""

    at: float = 0.0

    def __call__(self, _state: State, event: Event, _record: Record) -> None:
        self.at = event.at
