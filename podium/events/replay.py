"""Folding the log again from its start, apart from the live state: what was true at an event
(time travel), or what the whole history says (usage over any past window).

It is the same pure fold over the same records in the same order, so the state after event N
is exactly the one the live fold had after event N. `Observer`s see each event the fold
applied (not the copies it dropped), with the state just after it and the record holding it
(its offset, and its chain hash where the log keeps one).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Final

from podium.events.fold import fold
from podium.events.model import Event
from podium.events.ports import EventLog, Record
from podium.events.state import State

Observer = Callable[[State, Event, Record], None]
_RECORDS_PER_TURN: Final = 16  # records folded between two turns of the loop


async def replay(log: EventLog, through: int, observe: Observer | None = None) -> State:
    """The state just after event `through` (1-based; the live state's `position` or below).
    Raises LogTruncated when the log no longer holds its start, LogUnavailable."""
    state = State()
    if through <= 0:
        return state
    records = log.subscribe(0)
    async with contextlib.aclosing(records):
        async for record in records:
            if fold_through(state, record, through, observe):
                break
            if record.offset % _RECORDS_PER_TURN == _RECORDS_PER_TURN - 1:
                await asyncio.sleep(0)  # a long replay shares the loop
    return state


def fold_through(
    state: State, record: Record, through: int, observe: Observer | None = None
) -> bool:
    """Fold the record's events until the state's position reaches `through`; True once it
    has."""
    for event in record.events:
        position = state.position
        fold(state, event)
        if state.position != position and observe is not None:
            observe(state, event, record)
        if state.position >= through:
            return True
    return False
