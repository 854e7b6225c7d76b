"""The scheduler loop: the one owner of job lifecycle decisions in a deployment.

Each step asks `decide` what to do with the folded state, appends the events, waits until its
own projector has folded them, and only then queues the work, so a run is always on the log as
dispatched before any executor can see it. It also settles the runs of executors whose
heartbeats stopped, and turns each stop request into a notice for the executors.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from libs.events.model import Event, JobFinished, JobStopping, JobStopRequested
from libs.events.ports import Heartbeats, PortError, Record, StopBus, WorkQueue
from libs.events.producer import Producer
from libs.events.projector import Projector
from libs.events.state import State
from libs.events.work import StopNotice, WorkItem
from services.scheduler.decide import (
    decide,
    lost_executors,
    settle_lost_executor,
    undelivered_work,
)

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class SchedulerSettings:
    max_inflight: int = 250
    lease_s: float = 15.0  # an executor silent this long is lost
    startup_grace_s: float = 15.0  # how long an executor never heard from still counts as alive
    tick_s: float = 1.0  # how often leases are checked when nothing else happens
    retry_s: float = 1.0


class Scheduler:
    def __init__(
        self,
        projector: Projector,
        producer: Producer,
        work_queue: WorkQueue,
        stop_bus: StopBus,
        heartbeats: Heartbeats,
        settings: SchedulerSettings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._projector = projector
        self._producer = producer
        self._work_queue = work_queue
        self._stop_bus = stop_bus
        self._heartbeats = heartbeats
        self._settings = settings
        self._clock = clock
        self._since = 0.0
        self._closing = False
        self._wakeup = asyncio.Event()
        self._notices: set[asyncio.Task[None]] = set()

    @property
    def state(self) -> State:
        return self._projector.state

    async def run(self) -> None:
        await self._projector.wait_caught_up()
        settings = self._settings
        self._since = self._clock() - settings.lease_s + settings.startup_grace_s
        await self._recover()
        self._projector.add_listener(self._on_record)
        try:
            while not self._closing:
                version = self._projector.version
                try:
                    busy = await self.step()
                except PortError as exc:
                    log.warning("scheduler step failed, retrying", error=str(exc))
                    await asyncio.sleep(settings.retry_s)
                    continue
                if not busy:
                    await self._idle(version)
        finally:
            self._projector.remove_listener(self._on_record)

    async def step(self) -> bool:
        """Decide once, make the decision durable, then hand out its work. True if it did
        anything."""
        now = self._clock()
        decision = decide(self.state, now, self._settings.max_inflight)
        seen = self._heartbeats.last_seen()
        for executor in lost_executors(self.state, seen, now, self._settings.lease_s, self._since):
            log.warning("executor lost; settling its runs", executor=executor)
            lost = settle_lost_executor(self.state, executor, now)
            decision.events.extend(lost.events)
            decision.work.extend(lost.work)
        if decision.events:
            stamped = await self._producer.emit(decision.events)
            await self._projector.wait_applied(stamped[-1])
            _log_lifecycle(decision.events)
        if decision.work:
            await self._put(decision.work)
        return bool(decision)

    async def close(self) -> None:
        self._closing = True
        self._wakeup.set()
        for task in list(self._notices):
            await task

    async def _idle(self, version: int) -> None:
        change = asyncio.ensure_future(self._projector.wait_change(version))
        wakeup = asyncio.ensure_future(self._wakeup.wait())
        try:
            await asyncio.wait(
                {change, wakeup}, timeout=self._settings.tick_s, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            change.cancel()
            wakeup.cancel()

    async def _recover(self) -> None:
        """After a restart: re-queue work an in-process queue lost, repeat pending stops."""
        if not self._work_queue.durable:
            await self._put(undelivered_work(self.state))
        for name in self.state.active:
            job = self.state.jobs[name]
            if job.stop_requested:
                await self._stop_bus.publish(StopNotice(job=name, force=job.force))

    async def _put(self, work: list[WorkItem]) -> None:
        if not work:
            return
        while True:
            try:
                await self._work_queue.put(work)
                return
            except PortError as exc:
                if self._closing:
                    raise
                log.warning("work not queued, retrying", items=len(work), error=str(exc))
                await asyncio.sleep(self._settings.retry_s)

    def _on_record(self, record: Record, state: State) -> None:
        for event in record.events:
            if isinstance(event, JobStopRequested) and event.job in state.active:
                notice = StopNotice(job=event.job, force=event.force)
                task = asyncio.get_running_loop().create_task(self._stop_bus.publish(notice))
                self._notices.add(task)
                task.add_done_callback(self._notices.discard)


def _log_lifecycle(events: list[Event]) -> None:
    for event in events:
        if isinstance(event, JobFinished):
            log.info("job finished", job_id=event.job, state=event.state.value)
        elif isinstance(event, JobStopping):
            log.info("job stopping", job_id=event.job)
