"""The scheduler loop: the one owner of job lifecycle decisions in a deployment.

Only the leader acts. On taking the lead it folds everything its predecessor wrote, queues again
what may not have been queued, and repeats pending stop notices. Then each step asks `decide`
what to do with the folded state, appends the events, waits until its own projector has folded
them, and only then queues the work: a run is on the log as dispatched before any executor can
see it. It also settles the runs of executors whose heartbeats stopped, settles work the queue
gave up delivering, repeats stop notices while jobs are stopping, and takes snapshots.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import structlog

from podium.events.model import (
    Event,
    JobFinished,
    JobStopping,
    JobStopRequested,
    ScheduleFired,
    ScheduleMissed,
    ScheduleSkipped,
    WorkQueued,
)
from podium.events.ports import (
    Heartbeats,
    Leadership,
    ParkedWork,
    PortError,
    Record,
    SnapshotStore,
    StopBus,
    WorkQueue,
)
from podium.events.producer import Producer
from podium.events.projector import Projector
from podium.events.snapshots import Snapshot
from podium.events.state import State
from podium.events.work import StopNotice, WorkItem
from podium.scheduler.decide import (
    decide,
    lost_executors,
    parked_run,
    prune_due,
    settle_lost_executor,
    stopping_now,
    undelivered_work,
)
from podium.scheduler.plans import PlanRunner
from podium.scheduler.settings import SchedulerSettings
from podium.scheduler.timers import Timers

log = structlog.get_logger(__name__)


class Scheduler:
    def __init__(
        self,
        projector: Projector,
        producer: Producer,
        work_queue: WorkQueue,
        stop_bus: StopBus,
        heartbeats: Heartbeats,
        settings: SchedulerSettings,
        *,
        leadership: Leadership,
        snapshots: SnapshotStore | None = None,
        parked: ParkedWork | None = None,
        plans: PlanRunner | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._projector = projector
        self._producer = producer
        self._work_queue = work_queue
        self._stop_bus = stop_bus
        self._heartbeats = heartbeats
        self._settings = settings
        self._leadership = leadership
        self._snapshots = snapshots
        self._parked = parked
        self._plans = plans
        self._clock = clock
        self._since = 0.0
        self._queued_through = 0
        self._snapshot_position = 0
        self._closing = False
        self._wakeup = asyncio.Event()
        self._notices: set[asyncio.Task[None]] = set()
        self._timers = Timers()

    @property
    def state(self) -> State:
        return self._projector.state

    @property
    def leading(self) -> bool:
        return self._leadership.is_leader and not self._closing

    async def run(self) -> None:
        await self._projector.caught_up.wait()
        self._projector.add_listener(self._on_record)
        try:
            while not self._closing:
                await _first(self._leadership.acquired(), self._wakeup.wait())
                if self.leading:
                    await self._lead()
        finally:
            self._projector.remove_listener(self._on_record)

    async def close(self) -> None:
        self._closing = True
        self._wakeup.set()
        for task in list(self._notices):
            await task

    async def _lead(self) -> None:
        duties = [
            self._steps(),
            self._repeat_stops(),
            *([self._take_snapshots()] if self._snapshots else []),
            *([self._settle_parked()] if self._parked else []),
            *([self._run_plans(self._plans)] if self._plans else []),
        ]
        tasks = [asyncio.ensure_future(duty) for duty in duties]
        lost = asyncio.ensure_future(self._leadership.lost())
        wakeup = asyncio.ensure_future(self._wakeup.wait())
        try:
            done, _ = await asyncio.wait(
                {*tasks, lost, wakeup}, return_when=asyncio.FIRST_COMPLETED
            )
            for task in done & set(tasks):
                task.result()  # a duty that ends on its own has failed: raise it
        finally:
            for task in (*tasks, lost, wakeup):
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _steps(self) -> None:
        await self._caught_up()
        settings = self._settings
        grace_s = settings.lease_s if settings.startup_grace_s is None else settings.startup_grace_s
        self._since = self._clock() - settings.lease_s + grace_s
        await self._recover()
        log.info("scheduling", position=self.state.position, active_jobs=len(self.state.active))
        while self.leading:
            version = self._projector.version
            try:
                busy = await self.step()
            except PortError as exc:
                log.warning("scheduler step failed, retrying", error=str(exc))
                await asyncio.sleep(settings.retry_s)
                continue
            if not busy:
                await self._idle(version)

    async def _run_plans(self, plans: PlanRunner) -> None:
        await self._caught_up()
        await plans.run()

    async def _caught_up(self) -> None:
        """Fold all that the previous leader wrote before deciding anything."""
        while True:
            try:
                async with asyncio.timeout(self._settings.sync_timeout_s):
                    await self._projector.sync()
                return
            except (PortError, TimeoutError) as exc:
                log.warning("not caught up with the log yet, retrying", error=repr(exc))
                await asyncio.sleep(self._settings.retry_s)

    async def step(self) -> bool:
        """Decide once, make the decision durable, then hand out its work. True if it did
        anything."""
        now = self._clock()
        state = self.state
        settings = self._settings
        decision = decide(state, now, settings.max_inflight, settings.max_dispatch)
        decision.events.extend(self._timers.due(state, now))
        pruning = prune_due(state, now, settings.job_retention_s, settings.prune_every_s)
        if pruning is not None:
            log.info("pruning jobs", ended_before=pruning.before)
            decision.events.append(pruning)
        seen = self._heartbeats.last_seen()
        for executor in lost_executors(state, seen, now, self._settings.lease_s, self._since):
            log.warning("executor lost; settling its runs", executor=executor)
            lost = settle_lost_executor(state, executor, now)
            decision.events.extend(lost.events)
            decision.work.extend(lost.work)
        if self._queued_through > state.work_queued_through:
            decision.events.insert(0, WorkQueued(at=now, through=self._queued_through))
        if decision.events:
            stamped = await self._producer.emit(decision.events)
            await self._projector.wait_applied(stamped[-1])
            _log_lifecycle(decision.events)
        if decision.work:
            await self._put(decision.work)
            self._queued_through = self.state.position
        return bool(decision)

    async def _idle(self, version: int) -> None:
        """Until the log moves on, the next tick, or the next scheduled occurrence."""
        timeout_s = self._settings.tick_s
        wakeup = self._timers.wakeup(self.state)
        if wakeup is not None:
            timeout_s = max(0.0, min(timeout_s, wakeup - self._clock()))
        await _first(
            self._projector.wait_change(version),
            self._wakeup.wait(),
            timeout_s=timeout_s,
        )

    async def _recover(self) -> None:
        """On taking the lead: queue what may have been lost, repeat pending stops."""
        state = self.state
        if self._work_queue.durable:
            # Work dispatched after the last WorkQueued may never have reached the queue.
            work = undelivered_work(state, dispatched_after=state.work_queued_through)
        else:
            work = undelivered_work(state)  # the queue died with the process
        if work:
            log.info("queueing work again", items=len(work))
        await self._put(work)
        self._queued_through = state.position
        await self._publish_stops()

    async def _put(self, work: list[WorkItem]) -> None:
        if not work:
            return
        while True:
            try:
                await self._work_queue.put(work)
                return
            except PortError as exc:
                if not self.leading:
                    raise
                log.warning("work not queued, retrying", items=len(work), error=str(exc))
                await asyncio.sleep(self._settings.retry_s)

    async def _repeat_stops(self) -> None:
        """Executors that joined after a stop, or missed it, hear it again."""
        while True:
            await asyncio.sleep(self._settings.stop_repeat_s)
            try:
                await self._publish_stops()
            except PortError as exc:
                log.warning("stop notices not repeated", error=str(exc))

    async def _publish_stops(self) -> None:
        for name in list(self.state.active):
            job = self.state.jobs.get(name)  # one that ended meanwhile may have been archived
            if job is not None and job.stop_requested:
                await self._stop_bus.publish(StopNotice(job=name, force=job.force))

    async def _take_snapshots(self) -> None:
        assert self._snapshots is not None
        settings = self._settings
        while True:
            await asyncio.sleep(settings.snapshot_interval_s)
            await self.snapshot_if_due(settings.snapshot_min_events)

    async def snapshot_if_due(self, min_events: int) -> bool:
        """Save a snapshot if the state moved on by `min_events` since the last one."""
        state = self.state
        if self._snapshots is None or state.position - self._snapshot_position < min_events:
            return False
        snapshot = Snapshot(self._projector.next_offset, state, self._projector.chain)
        try:
            await self._snapshots.save(snapshot)
        except PortError as exc:
            log.warning("snapshot not saved", error=str(exc))
            return False
        self._snapshot_position = state.position
        return True

    async def _settle_parked(self) -> None:
        assert self._parked is not None
        async for delivery in self._parked.parked():
            now = self._clock()
            ended = [end for item in delivery.items if (end := parked_run(self.state, item, now))]
            if ended:
                try:
                    stamped = await self._producer.emit(ended)
                except PortError as exc:  # parked again, settled on a later try
                    log.warning("parked work not settled yet", error=str(exc))
                    await delivery.release()
                    await asyncio.sleep(self._settings.retry_s)
                    continue
                await self._projector.wait_applied(stamped[-1])
            for end in ended:
                log.error("work item parked; its run ends errored", job_id=end.job, node=end.node)
            await delivery.ack()

    def _on_record(self, record: Record, state: State) -> None:
        if not self.leading:
            return
        for event in record.events:
            if isinstance(event, JobStopRequested) and event.job in state.active:
                notice = StopNotice(job=event.job, force=event.force)
                stopping = stopping_now(state, event.job, self._clock())
                task = asyncio.get_running_loop().create_task(self._stop(notice, stopping))
                self._notices.add(task)
                task.add_done_callback(self._notices.discard)

    async def _stop(self, notice: StopNotice, stopping: JobStopping | None) -> None:
        """Say `job_stopping` and tell the executors at once, ahead of the current step."""
        if stopping is None:
            await self._publish_stop(notice)
            return
        await asyncio.gather(self._say_stopping(stopping), self._publish_stop(notice))

    async def _say_stopping(self, stopping: JobStopping) -> None:
        try:
            await self._producer.emit([stopping])
        except PortError as exc:  # the next step says it instead
            log.warning("job_stopping not recorded yet", job_id=stopping.job, error=str(exc))

    async def _publish_stop(self, notice: StopNotice) -> None:
        try:
            await self._stop_bus.publish(notice)
        except PortError as exc:  # repeated by _repeat_stops while the job is stopping
            log.warning("stop notice not sent", job_id=notice.job, error=str(exc))


async def _first(*awaitables: Awaitable[object], timeout_s: float | None = None) -> None:
    """Wait until one of the awaitables is done (or the timeout passes); cancel the rest."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        await asyncio.wait(tasks, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        # Not `await task` under suppress(CancelledError): that would also swallow a
        # cancellation of the caller arriving meanwhile, and the caller would go on forever.
        await asyncio.wait(tasks)


def _log_lifecycle(events: list[Event]) -> None:
    fired = [event for event in events if isinstance(event, ScheduleFired)]
    if fired:  # one line however many fire together
        shown = [f"{event.schedule}@{event.occurrence:.0f}" for event in fired[:10]]
        log.info("schedules fired", count=len(fired), occurrences=shown)
    for event in events:
        if isinstance(event, JobFinished):
            log.info("job finished", job_id=event.job, state=event.state.value)
        elif isinstance(event, JobStopping):
            log.info("job stopping", job_id=event.job)
        elif isinstance(event, ScheduleMissed):
            log.warning("schedule missed", schedule=event.schedule, count=event.count)
        elif isinstance(event, ScheduleSkipped):
            log.info("schedule skipped: its previous run goes on", schedule=event.schedule)
