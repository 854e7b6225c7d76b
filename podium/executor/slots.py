"""`Slots`: how many node runs an executor may have going, taken several at a time.

An executor starts the runs of one work message together, so it takes a slot for each of them
at once; waiters are served first come, first served, so a large take is not starved by a
stream of small ones.
"""

from __future__ import annotations

import asyncio
from collections import deque


class Slots:
    def __init__(self, total: int) -> None:
        self.total = total
        self.free = total
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()

    @property
    def busy(self) -> int:
        return self.total - self.free

    async def acquire(self, count: int) -> None:
        """Take `count` slots (at most `total`), waiting until that many are free."""
        if count > self.total:
            raise ValueError(f"cannot take {count} of {self.total} slots")
        if not self._waiters and self.free >= count:
            self.free -= count
            return
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((count, granted))
        try:
            await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():
                self.release(count)  # granted just as it was cancelled: give them back
            else:
                self._waiters.remove((count, granted))
                self._serve()
            raise

    def release(self, count: int = 1) -> None:
        self.free += count
        self._serve()

    def _serve(self) -> None:
        while self._waiters and self._waiters[0][0] <= self.free:
            count, granted = self._waiters.popleft()
            self.free -= count
            granted.set_result(None)
