"""The plan executor: a duty of the leading scheduler that moves every running plan job on.

Each round asks `podium.plans.machine.advance` what the folded state says to do next, appends
those events and waits until its own projector has folded them before deciding again, so a
step is never started twice by the same leader; a new leader starts from the log alone.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import structlog

from podium.events.model import Event, PlanFinished
from podium.events.ports import PortError
from podium.events.producer import Producer
from podium.events.projector import Projector
from podium.events.state import PlanJob
from podium.inventory import Inventory, InventoryError
from podium.plans.load import PlanError, load_plan
from podium.plans.machine import advance, pal_error
from podium.plans.model import Plan

log = structlog.get_logger(__name__)


class PlanRunner:
    def __init__(
        self,
        projector: Projector,
        producer: Producer,
        inventory: Callable[[], Inventory],
        *,
        tick_s: float = 1.0,
        retry_s: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._projector = projector
        self._producer = producer
        self._inventory = inventory
        self._tick_s = tick_s
        self._retry_s = retry_s
        self._clock = clock
        self._plans: dict[tuple[str, int], dict[str, Plan] | PlanError] = {}

    async def run(self) -> None:
        """Until cancelled (leadership lost, or the process closing)."""
        while True:
            version = self._projector.version
            try:
                moved = await self.step()
            except PortError as exc:
                log.warning("plan step not recorded, retrying", error=str(exc))
                await asyncio.sleep(self._retry_s)
                continue
            if not moved:
                waiter = asyncio.ensure_future(self._projector.wait_change(version))
                try:
                    await asyncio.wait([waiter], timeout=self._tick_s)
                finally:
                    waiter.cancel()

    async def step(self) -> bool:
        """Decide once for every running plan job and record it. True if anything was."""
        events = self.decide(self._clock())
        if not events:
            return False
        stamped = await self._producer.emit(events)
        await self._projector.wait_applied(stamped[-1])
        for event in events:
            if isinstance(event, PlanFinished):
                log.info("plan job finished", plan_job=event.plan_job, ok=event.ok)
        return True

    def decide(self, now: float) -> list[Event]:
        state = self._projector.state
        events: list[Event] = []
        inventory: Inventory | None = None
        for name in list(state.active_plans):
            job = state.plan_jobs[name]
            if job.driven_by_client:
                continue
            plans = self._parsed(job)
            if isinstance(plans, PlanError):
                error = pal_error(job.plan, "loading", str(plans))
                events.append(
                    PlanFinished(at=now, plan_job=name, attempt=job.attempt, ok=False, result=error)
                )
                continue
            if inventory is None:
                try:
                    inventory = self._inventory()
                except InventoryError as exc:
                    log.error("plans wait: no inventory to resolve targets", error=str(exc))
                    return events
            events.extend(advance(state, job, plans, inventory, now))
        return events

    def _parsed(self, job: PlanJob) -> dict[str, Plan] | PlanError:
        """The plan job's plans, parsed from the texts on the log (once per job and attempt)."""
        key = (job.name, job.attempt)
        found = self._plans.get(key)
        if found is None:
            try:
                found = {name: load_plan(name, text) for name, text in job.sources.items()}
            except PlanError as exc:
                found = exc
            self._plans = {
                k: v for k, v in self._plans.items() if k[0] in self._projector.state.active_plans
            }
            self._plans[key] = found
        return found
