"""Making the job of each fired occurrence: the scheduler says when, the api says what and who.

The leading scheduler appends `ScheduleFired`; every api replica folds it and makes that
occurrence's job as the schedule's owner, with the checks of the schedule's command run now
(environment, task, parameters, scope, permissions). The job's request id is the occurrence's
own (`fired_request_id`), so however many replicas make it, the fold keeps one job; a run that
cannot be made is recorded as `ScheduleRunRefused` (the first of a job or a refusal wins).
A fired occurrence nobody has made yet (all api replicas were down) is made when one starts.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from itertools import islice
from typing import Final

import msgspec
import structlog
from aiohttp import web

from podium.api.bodies import DeployCommand, TaskCommand
from podium.api.commands import job_requested
from podium.api.errors import ApiError, InternalError
from podium.api.keys import CLOCK, PRODUCER, PROJECTOR
from podium.api.plans import plan_job_requested
from podium.api.scheduling import check_owner, command_of, prepare_command
from podium.events.jobspec import JobOrigin, JobSpec, PlanRun
from podium.events.model import Event, ScheduleRunRefused
from podium.events.ports import PortError
from podium.events.schedules import fired_request_id
from podium.events.state import Schedule
from podium.jsontypes import Json

log = structlog.get_logger(__name__)
BATCH: Final = 250  # occurrences made per append at most (~0.1 s of the loop's time)
RETRY_S: Final = 1.0


class Firings:
    """The one loop of an api process that makes fired occurrences' jobs."""

    def __init__(self, app: web.Application) -> None:
        self._app = app
        # Each schedule's command, built once from its spec (while the spec is the same one).
        self._commands: dict[str, tuple[JobSpec, TaskCommand | DeployCommand]] = {}

    async def context(self, app: web.Application) -> AsyncIterator[None]:
        """An aiohttp cleanup context: the loop runs while the app does."""
        task = asyncio.get_running_loop().create_task(self.run(), name="firings")
        yield
        task.cancel()
        await asyncio.wait([task])

    async def run(self) -> None:
        projector = self._app[PROJECTOR]
        await projector.caught_up.wait()
        sent: set[str] = set()  # appended by this loop, not folded yet: not made twice
        while True:
            version = projector.version
            fired = projector.state.fired
            sent.intersection_update(fired)
            pending = list(islice((item for item in fired.items() if item[0] not in sent), BATCH))
            if not pending:
                await projector.wait_change(version)
                continue
            try:
                made = await self.make(pending)
            except PortError as exc:  # they may have landed: made again, the fold keeps one
                log.warning("scheduled runs not recorded yet, retrying", error=str(exc))
                await asyncio.sleep(RETRY_S)
                continue
            sent.update(made)
            if not made:
                await projector.wait_change(version)

    async def make(self, pending: list[tuple[str, str]]) -> list[str]:
        """Make each pending occurrence's job (or its refusal) and append them as one batch;
        the request ids appended. The next batch is made while this one is folded."""
        state = self._app[PROJECTOR].state
        events: list[Event] = []
        made: list[str] = []
        for request_id, name in pending:
            schedule = state.schedules[name]
            occurrence = schedule.pending
            if occurrence is None or fired_request_id(name, occurrence) != request_id:
                continue
            events.append(await self._made(schedule, occurrence))
            made.append(request_id)
        if events:
            await self._app[PRODUCER].emit(events)
        return made

    async def _made(self, schedule: Schedule, occurrence: float) -> Event:
        now = self._app[CLOCK]()
        request_id = fired_request_id(schedule.name, occurrence)
        try:
            event = await self._requested(schedule, request_id, now)
        except Exception as exc:  # recorded on the schedule: its next runs go on
            error = exc if isinstance(exc, ApiError) else InternalError(f"{exc!r}")
            log.warning(
                "scheduled run refused",
                schedule=schedule.name,
                kind=error.kind,
                msg=error.msg,
                exc_info=not isinstance(exc, ApiError),
            )
            return ScheduleRunRefused(
                at=now,
                schedule=schedule.name,
                occurrence=occurrence,
                kind=error.kind,
                msg=error.msg,
                details=_storable(error.details),
            )
        return event

    async def _requested(self, schedule: Schedule, request_id: str, now: float) -> Event:
        """The run's job (or plan job), made with the checks of its command as the owner."""
        owner, spec = schedule.owner, schedule.spec
        if isinstance(spec, PlanRun):
            check_owner(self._app[PROJECTOR].state, owner)
            plan = await plan_job_requested(self._app, owner, spec, request_id, now)
            return msgspec.structs.replace(plan, scheduled_job_id=schedule.name)
        command = self._command(schedule.name, spec)
        made, planned = await prepare_command(self._app, owner, command)
        made = msgspec.structs.replace(made, origin=JobOrigin(scheduled_job_id=schedule.name))
        return job_requested(made, planned, owner, request_id, now)

    def _command(self, name: str, spec: JobSpec) -> TaskCommand | DeployCommand:
        """The schedule's command, built once while its spec is the same one."""
        kept = self._commands.get(name)
        if kept is None or kept[0] is not spec:
            kept = self._commands[name] = (spec, command_of(spec))
        return kept[1]


def _storable(details: dict[str, object]) -> dict[str, Json]:
    """An error's details as the log can hold them (JSON values)."""
    return msgspec.json.decode(msgspec.json.encode(details, enc_hook=str), type=dict[str, Json])
