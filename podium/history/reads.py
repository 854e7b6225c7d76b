"""Finding a job wherever it is: live in the folded state, ended and not yet written in the
archive's `pending`, or in the store. Each read loads what its answer needs and no more, as the
same `Job` struct, so every answer is rendered by the same views from either place."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Final, NamedTuple, TypeVar

from podium.events.fold import is_pruned
from podium.events.planfold import is_plan_pruned
from podium.events.projector import Projector
from podium.events.state import Job, JobEvent, PlanJob, State
from podium.history.archive import Archive
from podium.history.store import EVENT_SPAN, SQL_INT_MAX, SQL_ORDERS, JobFilter, JobKey, PlanKey

T = TypeVar("T")
REPLAY_SPAN: Final = EVENT_SPAN  # event ids per store read of a replay


class Listed(NamedTuple):
    """A job GET /jobs may list: its sort key and, for a live one, the job itself."""

    key: JobKey
    job: Job | None


class Candidates(NamedTuple):
    """What GET /jobs sorts to cut its page from: the job at `skipped + i` of the whole
    sorted list is at `i` of these sorted, from `offset` on; `total` counts the whole list."""

    listed: list[Listed]
    total: int
    skipped: int


class JobReader:
    def __init__(self, projector: Projector, archive: Archive | None = None) -> None:
        self._projector = projector
        self._archive = archive

    @property
    def state(self) -> State:
        return self._projector.state

    def in_memory(self, name: str) -> Job | None:
        """A live job, or an ended one not yet written."""
        state = self.state
        job = state.jobs.get(name)
        if job is None and self._archive is not None:
            job = self._archive.pending.get(name)
            if job is not None and is_pruned(job, state.pruned_before):
                return None
        return job

    def memory_jobs(self) -> Iterator[Job]:
        yield from self.state.jobs.values()
        if self._archive is not None:
            before = self.state.pruned_before
            yield from (job for job in self._archive.pending.values() if not is_pruned(job, before))

    async def _stored(self, read: Callable[[], T]) -> T:
        assert self._archive is not None
        return await asyncio.get_running_loop().run_in_executor(self._archive.store.readers, read)

    async def head(self, name: str) -> Job | None:
        """The job without its node runs, and with only its last event when archived: enough
        for GET /jobs/<id> and a stop's answer."""
        job = self.in_memory(name)
        if job is not None or self._archive is None or not _is_name(name):
            return job
        store, number = self._archive.store, int(name)
        head = await self._stored(lambda: store.head(number))
        if head is None or is_pruned(head, self.state.pruned_before):
            return None
        return head

    async def job(
        self, name: str, *, nodes: bool = False, events_from: int | None = None
    ) -> Job | None:
        """The job with its node runs (`nodes`) and its events from `events_from` on."""
        live = self.in_memory(name)
        if live is not None or self._archive is None:
            return live
        head = await self.head(name)
        if head is None:
            return None
        store, number = self._archive.store, int(name)
        if nodes:
            head.nodes = await self._stored(lambda: store.nodes(number))
        if events_from is not None:
            start = events_from
            head.events = await self._stored(lambda: store.events(number, start))
        return head

    async def listed(
        self,
        wanted: Callable[[Job], bool],
        which: JobFilter,
        order_by: str,
        descending: bool,
        offset: int,
        limit: int | None,
    ) -> Candidates:
        """What GET /jobs needs for its page `offset`, `limit` (None: to the end) in its
        order. Every job in memory that `wanted` takes (as the store's filter `which` does)
        comes. Of the archived ones, when SQLite sorts as the api does and a limit is given,
        only those from `offset - (jobs in memory)` through `offset + limit` in that order:
        the archived job at `i` of the store's order is at `i` plus the jobs in memory before
        it, at most those, in the whole list, so the page is among them. Else all come."""
        found = [
            Listed(_key(job), job)
            for job in self.memory_jobs()
            if (which.owner is None or job.owner == which.owner) and wanted(job)
        ]
        if self._archive is None:
            return Candidates(found, len(found), 0)
        store = self._archive.store
        which = replace(which, since=self.state.pruned_before)
        held = {listed.key.name for listed in found}
        sortable = order_by in SQL_ORDERS and limit is not None

        def read() -> tuple[list[JobKey], int, set[int], int]:
            with store.snapshot():  # a job written meanwhile would be counted twice
                both = store.present(held)  # ended jobs the archive has not let go of yet
                if not sortable or limit is None:
                    return store.keys(which), store.count(which), both, 0
                # A job both in memory and in the store would count twice in its order.
                skip = 0 if both else max(0, offset - len(found))
                keys = store.keys(which, order_by, descending, offset + limit - skip, skip)
                return keys, store.count(which), both, skip

        keys, total, both, skipped = await self._stored(read)
        found.extend(Listed(key, None) for key in keys if key.name not in held)
        return Candidates(found, len(held) + total - len(both), skipped)

    async def heads(self, names: list[int], *, light: bool = False) -> dict[int, Job]:
        if self._archive is None or not names:
            return {}
        store = self._archive.store
        return await self._stored(lambda: store.heads(names, light=light))

    async def archived_events(self, low: int, high: int) -> list[tuple[Job, JobEvent]]:
        """Archived job events with ids in [low, high), each with its job's head, by id."""
        if self._archive is None:
            return []
        store = self._archive.store
        rows = await self._stored(lambda: store.events_between(low, high))
        heads = await self.heads(sorted({name for name, _ in rows}), light=True)
        before = self.state.pruned_before
        return [
            (heads[name], event)
            for name, event in rows
            if name in heads and not is_pruned(heads[name], before)
        ]

    async def count_by_state(self) -> dict[str, int]:
        if self._archive is None:
            return {}
        store = self._archive.store
        return await self._stored(store.count_by_state)


class ListedPlan(NamedTuple):
    """A plan job GET /plan_jobs may list: its sort key and, when in memory, itself."""

    key: PlanKey
    plan: PlanJob | None


class PlanReader:
    """Finding a plan job wherever it is: in the folded state (live, or ended where nothing
    archives), ended and not yet written in the archive's `pending_plans`, or in the store."""

    def __init__(self, projector: Projector, archive: Archive | None = None) -> None:
        self._projector = projector
        self._archive = archive

    def _memory(self) -> Iterator[PlanJob]:
        state = self._projector.state
        yield from state.plan_jobs.values()
        if self._archive is not None:
            before = state.pruned_before
            for plan in self._archive.pending_plans.values():
                if plan.name not in state.plan_jobs and not is_plan_pruned(plan, before):
                    yield plan

    async def _stored(self, read: Callable[[], T]) -> T:
        assert self._archive is not None
        return await asyncio.get_running_loop().run_in_executor(self._archive.store.readers, read)

    async def plan(self, name: str) -> PlanJob | None:
        state = self._projector.state
        plan = state.plan_jobs.get(name)
        if plan is not None or self._archive is None or not _is_name(name):
            return plan
        plan = self._archive.pending_plans.get(name)
        if plan is None:
            store, number = self._archive.store, int(name)
            plan = await self._stored(lambda: store.plan_job(number))
        return None if plan is None or is_plan_pruned(plan, state.pruned_before) else plan

    async def listed(
        self,
        wanted: Callable[[PlanJob], bool],
        owner: str | None,
        earliest: float | None,
        latest: float | None,
    ) -> list[ListedPlan]:
        """Every plan job `wanted` takes (the store's filter on `owner` and finish times does
        as it does): those in memory with themselves, archived ones by their key."""
        found = [ListedPlan(_plan_key(plan), plan) for plan in self._memory() if wanted(plan)]
        if self._archive is None:
            return found
        held = {listed.key.name for listed in found} | {
            int(name) for name in self._projector.state.plan_jobs
        }
        store, since = self._archive.store, self._projector.state.pruned_before
        which = JobFilter(earliest=earliest, latest=latest, owner=owner, since=since)
        keys = await self._stored(lambda: store.plan_keys(which))
        found.extend(ListedPlan(key, None) for key in keys if key.name not in held)
        return found

    async def plans(self, listed: list[ListedPlan]) -> list[PlanJob]:
        """The plan jobs of `listed`, in its order."""
        wanted = [item.key.name for item in listed if item.plan is None]
        loaded: dict[int, PlanJob] = {}
        if wanted and self._archive is not None:
            store = self._archive.store
            loaded = await self._stored(lambda: store.plan_jobs(wanted))
        found = (item.plan or loaded.get(item.key.name) for item in listed)
        return [plan for plan in found if plan is not None]  # none pruned meanwhile


def _plan_key(plan: PlanJob) -> PlanKey:
    return PlanKey(int(plan.name), plan.updated_at, plan.state.value, plan.environment, plan.owner)


def _is_name(name: str) -> bool:
    """Job names are decimal integers as `str(int)` writes them."""
    return (
        name.isdecimal() and name.isascii() and str(int(name)) == name and int(name) <= SQL_INT_MAX
    )


def _key(job: Job) -> JobKey:
    return JobKey(int(job.name), job.updated_at, job.state.value, job.environment, job.owner)
