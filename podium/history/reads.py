"""Finding a job wherever it is: live in the folded state, ended and not yet written in the
archive's `pending`, or in the store. Each read loads what its answer needs and no more, as the
same `Job` struct, so every answer is rendered by the same views from either place."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Final, NamedTuple, TypeVar

from podium.events.fold import is_pruned
from podium.events.projector import Projector
from podium.events.state import Job, JobEvent, State
from podium.history.archive import Archive
from podium.history.store import EVENT_SPAN, SQL_ORDERS, JobFilter, JobKey

T = TypeVar("T")
REPLAY_SPAN: Final = EVENT_SPAN  # event ids per store read of a replay


class Listed(NamedTuple):
    """A job GET /jobs may list: its sort key and, for a live one, the job itself."""

    key: JobKey
    job: Job | None


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
        first: int | None,
    ) -> tuple[list[Listed], int]:
        """What GET /jobs needs to list the `first` jobs in its order (None: all of them), and
        how many jobs it lists in all. The jobs in memory that `wanted` takes (as the store's
        filter `which` does) all come; of the archived ones, the `first` in the order when
        SQLite can sort as the api does, else all: the `first` of the union are among them."""
        found = [
            Listed(_key(job), job)
            for job in self.memory_jobs()
            if (which.owner is None or job.owner == which.owner) and wanted(job)
        ]
        if self._archive is None:
            return found, len(found)
        store = self._archive.store
        which = replace(which, since=self.state.pruned_before)
        held = {listed.key.name for listed in found}
        sortable = order_by in SQL_ORDERS and first is not None
        sql_order = order_by if sortable else None
        keys, total, both = await self._stored(
            lambda: (
                store.keys(which, sql_order, descending, first),
                store.count(which),
                store.present(held),  # ended jobs not yet let go of by the archive
            )
        )
        found.extend(Listed(key, None) for key in keys if key.name not in held)
        return found, len(held) + total - len(both)

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


def _is_name(name: str) -> bool:
    """Job names are decimal integers as `str(int)` writes them."""
    return name.isdecimal() and name.isascii() and str(int(name)) == name


def _key(job: Job) -> JobKey:
    return JobKey(int(job.name), job.updated_at, job.state.value, job.environment, job.owner)
