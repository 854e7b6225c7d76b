"""An executor's slot is for a run: it comes back when the run ends, while the run's end is being
appended, so a log slow to take appends costs each run one wait, not two."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Sequence
from pathlib import Path

from podium.events.filelog import FileEventLog
from podium.events.jobspec import RunSpec
from podium.events.memory import MemoryHeartbeats, MemoryStopBus, MemoryWorkQueue
from podium.events.model import Event, NodeRunFinished, NodeRunStarted
from podium.events.ports import Head, Record
from podium.events.producer import Producer
from podium.events.work import WorkItem, WorkQueueSettings
from podium.executor.executor import Executor
from podium.executor.settings import ExecutorSettings
from podium.executor.transports.sim import SimTransport


class GatedLog:
    """A file log whose appends wait while the gate is shut: a log slow to take an append, when
    the test says (no real log can be made slow at a chosen moment)."""

    def __init__(self, log: FileEventLog) -> None:
        self.log = log
        self.gate = asyncio.Event()
        self.gate.set()
        self.waiting = 0  # appends held at the gate
        self.appended: list[list[Event]] = []

    async def append(self, batch: Sequence[Event]) -> None:
        self.waiting += 1
        try:
            await self.gate.wait()
        finally:
            self.waiting -= 1
        await self.log.append(batch)
        self.appended.append(list(batch))

    def subscribe(self, from_offset: int) -> AsyncGenerator[Record, None]:
        return self.log.subscribe(from_offset)

    async def head(self) -> Head:
        return await self.log.head()

    async def close(self) -> None:
        await self.log.close()


def item(node: str, latency_ms: int = 0) -> WorkItem:
    spec = RunSpec(kind="task", environment="production", task="mod::t")
    config = {"latency-ms": latency_ms}
    return WorkItem(job="1", node=node, attempt=1, transport="sim", config=config, spec=spec)


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):
        while not condition():
            await asyncio.sleep(0.005)


async def test_a_slot_comes_back_when_its_run_ends_not_when_the_end_is_appended(
    tmp_path: Path,
) -> None:
    log = GatedLog(await FileEventLog.open(tmp_path / "events.log", fsync=False))
    queue = MemoryWorkQueue(WorkQueueSettings(batch=1))
    producer = Producer(log, origin="executor-1")
    producer.start()
    executor = Executor(
        "executor-1",
        queue,
        MemoryStopBus(),
        producer,
        MemoryHeartbeats(),
        {"sim": SimTransport()},
        ExecutorSettings(slots=1, heartbeat_s=60),
    )
    running = asyncio.get_running_loop().create_task(executor.run())
    try:
        await queue.put([item("a", latency_ms=200)])
        await until(lambda: len(log.appended) == 1)  # a has started
        log.gate.clear()  # the log is slow from here
        await queue.put([item("b")])
        await until(lambda: log.waiting == 1 and executor.unreported == 1)  # a's end waits
        # b took the one slot a gave back, and its start waits behind a's end
        await until(lambda: executor.in_progress == 1)
        assert [type(e) for batch in log.appended for e in batch] == [NodeRunStarted]
        log.gate.set()
        await until(lambda: sum(map(len, log.appended)) == 4)
        runs = [e for batch in log.appended for e in batch]
        assert all(isinstance(e, NodeRunStarted | NodeRunFinished) for e in runs)
        assert [(type(e).__name__, getattr(e, "node", None)) for e in runs] == [
            ("NodeRunStarted", "a"),
            ("NodeRunFinished", "a"),
            ("NodeRunStarted", "b"),
            ("NodeRunFinished", "b"),
        ]
        ends = [e for e in runs if isinstance(e, NodeRunFinished)]
        assert [e.state.value for e in ends] == ["finished", "finished"]
        await until(lambda: executor.unreported == 0 and executor.in_progress == 0)
    finally:
        log.gate.set()  # whatever failed, nothing stays held at the gate
        await executor.close()
        running.cancel()
        await asyncio.wait([running])
        await producer.close()
        await queue.close()
        await log.close()
