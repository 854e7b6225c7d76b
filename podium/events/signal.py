"""`Signal`: wake every coroutine waiting for "something changed", without a task per wake-up."""

from __future__ import annotations

import asyncio


class Signal:
    """Waiters re-check their condition after each wake-up; `notify` is cheap and synchronous."""

    def __init__(self) -> None:
        self._waiters: list[asyncio.Future[None]] = []

    def notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def wait(self) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        await waiter
