"""The adapters one process talks through: embedded (a log file, in-process queues) or RabbitMQ.

`open_adapters` is an async context manager: it opens every port a process may use and closes
them on the way out. The ports' own loops (`Leadership.run`, `Heartbeats.listen`, `Mirror.run`)
are run by the role that uses them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Final

from podium.events.amqp.broker import Broker
from podium.events.amqp.fanout import AmqpHeartbeats, AmqpStopBus
from podium.events.amqp.leader import AmqpLeadership
from podium.events.amqp.log import AmqpEventLog
from podium.events.amqp.mirror import TopicMirror
from podium.events.amqp.settings import AmqpSettings
from podium.events.amqp.snapshots import AmqpSnapshots
from podium.events.amqp.work import AmqpWorkQueue
from podium.events.filelog import LOG_FILE, FileEventLog
from podium.events.memory import MemoryHeartbeats, MemoryStopBus, MemoryWorkQueue, SoleLeader
from podium.events.ports import (
    EventLog,
    Heartbeats,
    Leadership,
    LogCorrupted,
    LogUnavailable,
    Mirror,
    ParkedWork,
    SnapshotStore,
    StopBus,
    WorkQueue,
)
from podium.events.snapshots import SNAPSHOT_FILE, FileSnapshots
from podium.health import Health
from podium.settings import Settings


class ConfigurationError(ValueError):
    """Raised at start-up for settings that cannot work together; the message says which."""


class Role(StrEnum):
    API = "api"
    SCHEDULER = "scheduler"
    EXECUTOR = "executor"


ALL_ROLES: Final = frozenset(Role)


@dataclass(frozen=True, slots=True)
class Adapters:
    """The ports of one process. `leadership` and `mirror` are the scheduler's: a process with
    no scheduler gets a sole leader it never asks and no mirror."""

    event_log: EventLog
    work_queue: WorkQueue
    parked: ParkedWork
    stop_bus: StopBus
    heartbeats: Heartbeats
    leadership: Leadership
    snapshots: SnapshotStore
    mirror: Mirror | None = None
    broker: Broker | None = None
    file_log: FileEventLog | None = None

    def health(self) -> Health:
        """Error while the broker is away, or while appends to the file log fail (a full
        disk): commands are answered 503 meanwhile."""
        if self.file_log is not None:
            failure = self.file_log.failure
            return Health("error" if failure else "running", {"log": failure or "appending"})
        if self.broker is None:
            return Health("running", {})
        up = self.broker.is_up
        return Health(
            "running" if up else "error", {"broker": "connected" if up else "disconnected"}
        )


@asynccontextmanager
async def open_adapters(settings: Settings, roles: frozenset[Role]) -> AsyncIterator[Adapters]:
    """Raises ConfigurationError, or the broker's error when it cannot be reached."""
    async with AsyncExitStack() as stack:
        if settings.amqp is None:
            yield await _embedded(settings, stack)
        else:
            yield await _on_rabbitmq(settings, settings.amqp, roles, stack)


async def _embedded(settings: Settings, stack: AsyncExitStack) -> Adapters:
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(
            f"{settings.data_dir}: cannot make the data dir: {exc.strerror or exc}"
        ) from exc
    path = settings.data_dir / LOG_FILE
    try:
        event_log = await FileEventLog.open(
            path, fsync=settings.fsync, segment_bytes=settings.log_segment_bytes
        )
    except (LogCorrupted, LogUnavailable) as exc:
        raise ConfigurationError(str(exc)) from exc
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot open the log: {exc.strerror or exc}") from exc
    stack.push_async_callback(event_log.close)
    # One process: deliveries no larger than its executor can start at once.
    work = replace(settings.work, batch=min(settings.work.batch, settings.executor.slots))
    work_queue = MemoryWorkQueue(work)
    stack.push_async_callback(work_queue.close)
    return Adapters(
        event_log=event_log,
        work_queue=work_queue,
        parked=work_queue,
        stop_bus=MemoryStopBus(),
        heartbeats=MemoryHeartbeats(),
        leadership=SoleLeader(),
        snapshots=FileSnapshots(settings.data_dir / SNAPSHOT_FILE, event_log),
        file_log=event_log,
    )


async def _on_rabbitmq(
    settings: Settings, amqp: AmqpSettings, roles: frozenset[Role], stack: AsyncExitStack
) -> Adapters:
    name = "-".join(sorted(roles)) if roles != ALL_ROLES else "serve"
    broker = await Broker.open(amqp, name)
    stack.push_async_callback(broker.close)
    event_log = await AmqpEventLog.open(broker)
    stack.push_async_callback(event_log.close)
    work_queue = await AmqpWorkQueue.open(broker, settings.work)
    stack.push_async_callback(work_queue.close)
    leadership: Leadership = SoleLeader()
    mirror = None
    if Role.SCHEDULER in roles:
        leadership = AmqpLeadership(broker)
        mirror = await TopicMirror.open(broker, leadership)
    return Adapters(
        event_log=event_log,
        work_queue=work_queue,
        parked=work_queue,
        stop_bus=await AmqpStopBus.open(broker),
        heartbeats=await AmqpHeartbeats.open(broker),
        leadership=leadership,
        snapshots=await AmqpSnapshots.open(broker),
        mirror=mirror,
        broker=broker,
    )
