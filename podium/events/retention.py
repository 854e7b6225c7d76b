"""Which segments of the embedded log may be deleted. Pure: the caller gathers the facts.

A segment may go only if everything a restart or a rebuild needs stays:

- a **restart** folds from the projection's checkpoint, and checks the snapshot file against
  the log: nothing at or after the lower of their offsets (`restart_from`) may go;
- a **rebuild** (the projection missing or damaged) starts from the oldest base snapshot the
  log still holds and folds on from it with the archive. A base is the live state before its
  offset: a job that ended before it is not in it, so the base may be the start only once every
  such job is pruned. Job names are given in request order, so the test is on names: a base in
  which `job_count` jobs had been named may start a rebuild only if every job not pruned (live,
  waiting to be written, or in the projection) has a higher name, and the same for plan jobs.

The newest base that passes both tests is where the log may start: the sealed segments wholly
before it go, the last segment never does. No base, no deletion.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from podium.events.segments import Base


@dataclass(frozen=True, slots=True)
class Retained:
    """The lowest job and plan job names that are not pruned (None: there is none), and the
    lowest offset a restart folds from (the projection's checkpoint, the snapshot file's)."""

    first_job: int | None
    first_plan_job: int | None
    restart_from: int


@dataclass(frozen=True, slots=True)
class Deletion:
    """The log may start at `start` (a base's offset); `segments` are the first offsets of the
    segments wholly before it."""

    start: int
    segments: list[int]


def start_base(bases: Sequence[Base], retained: Retained) -> Base | None:
    """The newest base a rebuild could start from with nothing retained lost."""
    usable = [base for base in bases if _usable(base, retained)]
    return max(usable, key=lambda base: base.offset, default=None)


def deletion(
    segments: Sequence[tuple[int, int]], bases: Sequence[Base], retained: Retained
) -> Deletion | None:
    """What may be deleted, given each segment's records [first, end) (oldest first, the last
    being appended to); None when nothing may."""
    base = start_base(bases, retained)
    if base is None:
        return None
    doomed = [first for first, end in segments[:-1] if end <= base.offset]
    return Deletion(base.offset, doomed) if doomed else None


def _usable(base: Base, retained: Retained) -> bool:
    if base.offset > retained.restart_from:
        return False
    jobs = retained.first_job is None or base.job_count < retained.first_job
    plans = retained.first_plan_job is None or base.plan_job_count < retained.first_plan_job
    return jobs and plans
