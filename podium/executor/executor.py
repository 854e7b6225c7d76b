"""The executor loop: the one owner of this process's slots, its runs and the stops it heard.

For each delivery of work items: wait for a slot for every item in it, report their
`NodeRunStarted` (or, for a stopped job, their skip) in one append, ack the delivery once that is
durable (never holding a delivery for a whole run, and never acking runs that have not started),
then run each over its transport and report its `NodeRunFinished`. A slot is for a run: it is
given back when the run ends, while its end is being appended, so the next run's start can go in
the same append (a run waits for one append, not two). Ended runs waiting for their report stay
bounded: a run starts only once its own start is durable, and the producer appends in order, so
everything that ended before it was appended with it or earlier. A forced stop cancels the
runs of its job, and the transports kill what they started. Heartbeats tell the scheduler this
executor is alive.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Final

import structlog

from podium.events.endings import Outcome, errored, run_ended, run_skipped
from podium.events.model import Event, NodeRunStarted
from podium.events.ports import Delivery, Heartbeats, PortError, StopBus, WorkQueue
from podium.events.producer import Producer
from podium.events.work import StopNotice, WorkItem
from podium.executor.settings import ExecutorSettings
from podium.executor.slots import Slots
from podium.executor.transports.base import RunError, Transport

log = structlog.get_logger(__name__)

KILLED_BY_STOP: Final = "The run was killed by a forced stop of the job"
KILLED_BY_SHUTDOWN: Final = "The executor shut down before the run finished"
_REMEMBERED_STOPS: Final = 10_000
_RETRY_FIRST_S: Final = 0.5
_RETRY_MAX_S: Final = 10.0


class Executor:
    def __init__(
        self,
        executor_id: str,
        work_queue: WorkQueue,
        stop_bus: StopBus,
        producer: Producer,
        heartbeats: Heartbeats,
        transports: Mapping[str, Transport],
        settings: ExecutorSettings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.id = executor_id
        self._work_queue = work_queue
        self._stop_bus = stop_bus
        self._producer = producer
        self._heartbeats = heartbeats
        self._transports = transports
        self._settings = settings
        self._clock = clock
        self._slots = Slots(settings.slots)
        self._stopped: OrderedDict[str, bool] = OrderedDict()  # job -> forced
        self._runs: dict[str, dict[str, asyncio.Task[Outcome]]] = {}  # job -> node -> run
        self._cancel_reasons: dict[asyncio.Task[Outcome], str] = {}
        self._items: set[asyncio.Task[None]] = set()  # runs, and deliveries waiting for slots
        self._loops: list[asyncio.Task[None]] = []
        self._consuming: asyncio.Task[None] | None = None
        self._closing = False
        self.unreported = 0  # runs that ended and whose end the log has not taken yet

    @property
    def in_progress(self) -> int:
        """Node runs going: started and not ended."""
        return self._slots.busy

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        await self._heartbeats.beat(self.id, self._clock())
        self._loops = [
            loop.create_task(self._beat(), name="executor-heartbeat"),
            loop.create_task(self._listen(), name="executor-stops"),
        ]
        self._consuming = loop.create_task(self._consume(), name="executor-consume")
        await self._consuming

    async def close(self) -> None:
        """Take no more work; let runs finish for the grace period, then cut them off."""
        self._closing = True
        if self._consuming is not None:
            self._consuming.cancel()
            await asyncio.wait([self._consuming])  # suppress(CancelledError) would hide our own
        if self._items:
            _, pending = await asyncio.wait(self._items, timeout=self._settings.shutdown_grace_s)
            if pending:
                self._cancel_all(KILLED_BY_SHUTDOWN)
                await asyncio.wait(pending)
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        for transport in self._transports.values():
            await transport.close()  # e.g. ssh connections kept for reuse

    async def _consume(self) -> None:
        prefetch = self._settings.prefetch(self._work_queue.batch)
        async for delivery in self._work_queue.consume(prefetch):
            self._spawn(self._take(delivery))

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._items.add(task)
        task.add_done_callback(self._items.discard)

    async def _take(self, delivery: Delivery) -> None:
        """Start every item of the delivery at once, or none of them."""
        items = list(delivery.items)
        await self._slots.acquire(len(items))
        runnable = [item for item in items if item.job not in self._stopped]
        self._slots.release(len(items) - len(runnable))
        now = self._clock()
        events: list[Event] = [
            NodeRunStarted(at=now, job=i.job, node=i.node, attempt=i.attempt, executor=self.id)
            for i in runnable
        ]
        events += [
            run_skipped(item.job, item.node, now, attempt=item.attempt)
            for item in items
            if item.job in self._stopped
        ]
        try:
            await self._producer.emit(events)
        except PortError as exc:
            # Not started: hand the items back, for this executor or another to try again.
            log.warning("runs not started: the log did not take their start", error=str(exc))
            self._slots.release(len(runnable))
            await delivery.release()
            return
        await delivery.ack()
        for item in runnable:
            self._spawn(self._handle(item))

    async def _handle(self, item: WorkItem) -> None:
        # Each run is a task with a context of its own: what is bound here stays with it.
        structlog.contextvars.bind_contextvars(job_id=item.job, node=item.node)
        try:
            outcome = await self._run(item)
        finally:
            self._slots.release()
        self.unreported += 1
        try:
            await self._finish(item, outcome)
        finally:
            self.unreported -= 1
        log.debug("node run finished", state=outcome.state.value)

    async def _run(self, item: WorkItem) -> Outcome:
        transport = self._transports.get(item.transport)
        if transport is None:
            return errored(item.node, f"Transport {item.transport!r} is not available here")
        run = asyncio.get_running_loop().create_task(transport.run(item))
        self._runs.setdefault(item.job, {})[item.node] = run
        if self._stopped.get(item.job):  # stopped by force while this run's start was recorded
            self._cancel(run, KILLED_BY_STOP)
        try:
            return await asyncio.shield(run)
        except RunError as exc:
            return errored(item.node, str(exc), exc.reached)
        except asyncio.CancelledError:
            if run.cancelled() and run in self._cancel_reasons:
                return errored(item.node, self._cancel_reasons[run])
            raise
        except Exception as exc:  # a transport bug must not take the executor down
            log.exception("transport failed")
            return errored(item.node, f"Internal error running {item.transport}: {exc}")
        finally:
            self._cancel_reasons.pop(run, None)
            runs = self._runs.get(item.job)
            if runs is not None:
                runs.pop(item.node, None)
                if not runs:
                    del self._runs[item.job]

    async def _finish(self, item: WorkItem, outcome: Outcome) -> None:
        """Record how the run ended. Tries until the log takes it: while this executor lives,
        nobody else will settle a run it started."""
        finished = run_ended(item.job, item.node, item.attempt, self._clock(), outcome)
        delay = _RETRY_FIRST_S
        while True:
            try:
                await self._producer.emit([finished])
                return
            except PortError as exc:
                if self._closing:
                    log.error("run end not recorded before shutdown", error=str(exc))
                    return
                log.warning("run end not recorded yet, retrying", error=str(exc))
            await asyncio.sleep(delay)
            delay = min(delay * 2, _RETRY_MAX_S)

    async def _listen(self) -> None:
        async for notice in self._stop_bus.subscribe():
            self._on_stop(notice)

    def _on_stop(self, notice: StopNotice) -> None:
        self._stopped[notice.job] = self._stopped.get(notice.job, False) or notice.force
        self._stopped.move_to_end(notice.job)
        while len(self._stopped) > _REMEMBERED_STOPS:
            self._stopped.popitem(last=False)
        if notice.force:
            for run in self._runs.get(notice.job, {}).values():
                self._cancel(run, KILLED_BY_STOP)

    def _cancel_all(self, reason: str) -> None:
        for runs in self._runs.values():
            for run in runs.values():
                self._cancel(run, reason)

    def _cancel(self, run: asyncio.Task[Outcome], reason: str) -> None:
        self._cancel_reasons.setdefault(run, reason)
        run.cancel()

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self._settings.heartbeat_s)
            try:
                await self._heartbeats.beat(self.id, self._clock())
            except PortError as exc:
                log.warning("heartbeat not sent", error=str(exc))
