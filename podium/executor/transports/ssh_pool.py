"""SSH connections shared by the runs that go to the same host as the same user.

A connection carries a few runs at once (sshd refuses more than `MaxSessions`, 10 by default,
channels per connection, and a run may hold two: the task and a kill). It is closed once no run
has used it for `idle_s`, or when it breaks. Nothing is kept for a key once it has no
connection and no run is waiting for one, so unreachable hosts leave nothing behind.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Final

import asyncssh

RUNS_PER_CONNECTION: Final = 4

Opener = Callable[[], Awaitable[asyncssh.SSHClientConnection]]


@dataclass(eq=False, slots=True)
class _Pooled:
    connection: asyncssh.SSHClientConnection
    users: int = 0
    idle: asyncio.TimerHandle | None = field(default=None)


@dataclass(eq=False, slots=True)
class _Gate:
    """Lets one run at a time open a connection for a key; `waiting` counts the runs inside."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    waiting: int = 0


class SshPool:
    def __init__(self, idle_s: float = 30.0, runs_per_connection: int = RUNS_PER_CONNECTION):
        self._idle_s = idle_s
        self._runs_per_connection = runs_per_connection
        self._pools: dict[Hashable, list[_Pooled]] = {}
        self._gates: dict[Hashable, _Gate] = {}
        self.opened = 0  # connections opened so far, for metrics and tests

    @contextlib.asynccontextmanager
    async def connection(
        self, key: Hashable, opener: Opener
    ) -> AsyncIterator[asyncssh.SSHClientConnection]:
        """A connection for `key`, shared or new. Raises what `opener` raises."""
        pooled = await self._acquire(key, opener)
        try:
            yield pooled.connection
        finally:
            self._release(key, pooled)

    @property
    def open_connections(self) -> int:
        return sum(
            1
            for pools in self._pools.values()
            for pooled in pools
            if not pooled.connection.is_closed()
        )

    @property
    def keys_held(self) -> int:
        """Keys with a connection or a run waiting for one: what the pool keeps in memory."""
        return len(self._pools.keys() | self._gates.keys())

    async def close(self) -> None:
        everything = [pooled for pools in self._pools.values() for pooled in pools]
        self._pools.clear()
        self._gates.clear()
        for pooled in everything:
            if pooled.idle is not None:
                pooled.idle.cancel()
            pooled.connection.close()
        for pooled in everything:
            await pooled.connection.wait_closed()

    async def _acquire(self, key: Hashable, opener: Opener) -> _Pooled:
        gate = self._gates.setdefault(key, _Gate())
        gate.waiting += 1
        try:
            async with gate.lock:  # one connect per key at a time
                pooled = self._spare(key)
                if pooled is None:
                    pooled = _Pooled(await opener())
                    self.opened += 1
                    self._pools.setdefault(key, []).append(pooled)
                pooled.users += 1
                if pooled.idle is not None:
                    pooled.idle.cancel()
                    pooled.idle = None
                return pooled
        finally:
            gate.waiting -= 1
            self._forget(key)

    def _spare(self, key: Hashable) -> _Pooled | None:
        pools = self._pools.get(key, [])
        pools[:] = [pooled for pooled in pools if not pooled.connection.is_closed()]
        return next((p for p in pools if p.users < self._runs_per_connection), None)

    def _forget(self, key: Hashable) -> None:
        """Drop the key's list and gate once it has no connection and no run waiting."""
        if not self._pools.get(key):
            self._pools.pop(key, None)
            gate = self._gates.get(key)
            if gate is not None and gate.waiting == 0:
                del self._gates[key]

    def _release(self, key: Hashable, pooled: _Pooled) -> None:
        pooled.users -= 1
        if pooled.users == 0:
            loop = asyncio.get_running_loop()
            pooled.idle = loop.call_later(self._idle_s, self._drop, key, pooled)

    def _drop(self, key: Hashable, pooled: _Pooled) -> None:
        pools = self._pools.get(key, [])
        if pooled in pools and pooled.users == 0:
            pools.remove(pooled)
            pooled.connection.close()
        self._forget(key)
