"""The transport port."""

from __future__ import annotations

from typing import Protocol

from podium.events.endings import Outcome
from podium.events.work import WorkItem


class RunError(Exception):
    """Raised when a run cannot be carried out (bad target settings, no implementation, a
    process that cannot start, a timeout); the node ends `errored` with this message.
    `reached` says whether the node was reached (None: nothing tried or nothing known)."""

    def __init__(self, message: str, *, reached: bool | None = None) -> None:
        super().__init__(message)
        self.reached = reached


class Transport(Protocol):
    async def run(self, item: WorkItem) -> Outcome:
        """Carry out one node run. Raises RunError. Cancelling the call stops the run, killing
        whatever it started, before the cancellation propagates."""

    async def close(self) -> None: ...
