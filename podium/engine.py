"""Assembling one process: the adapters (embedded or RabbitMQ) and the roles it runs.

`podium serve` runs all three roles, over the embedded adapters or, with `--amqp-url`, over
RabbitMQ; `podium api`, `podium scheduler` and `podium executor` run one role each on RabbitMQ.
The roles are the same code either way; only the adapters differ.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import structlog
from aiohttp import web

from podium.api.app import build_app
from podium.api.puppetdb import PuppetDb
from podium.api.sources import InventoryHolder, SourceError, SourceFiles
from podium.api.status import Health, projector_health
from podium.environments import BadEnvironment, Environments
from podium.events.amqp.broker import Broker
from podium.events.amqp.fanout import AmqpHeartbeats, AmqpStopBus
from podium.events.amqp.leader import AmqpLeadership
from podium.events.amqp.log import AmqpEventLog
from podium.events.amqp.mirror import TopicMirror
from podium.events.amqp.snapshots import AmqpSnapshots
from podium.events.amqp.work import AmqpWorkQueue
from podium.events.filelog import FileEventLog
from podium.events.memory import MemoryHeartbeats, MemoryStopBus, MemoryWorkQueue, SoleLeader
from podium.events.ports import (
    EventLog,
    Heartbeats,
    Leadership,
    Mirror,
    ParkedWork,
    SnapshotStore,
    StopBus,
    WorkQueue,
)
from podium.events.producer import Producer
from podium.events.projector import Projector
from podium.events.snapshots import FileSnapshots
from podium.executor.executor import Executor
from podium.executor.transports.base import Transport
from podium.executor.transports.local import LocalSettings, LocalTransport
from podium.executor.transports.sim import SimTransport
from podium.executor.transports.ssh import SshSettings, SshTransport
from podium.scheduler.scheduler import Scheduler
from podium.settings import Settings
from podium.tokens import ensure_admin_token

log = structlog.get_logger(__name__)
LOG_FILE: Final = "events.log"
SNAPSHOT_FILE: Final = "snapshot.bin"


class ConfigurationError(ValueError):
    """Raised at start-up for settings that cannot work together; the message says which."""


class Role(StrEnum):
    API = "api"
    SCHEDULER = "scheduler"
    EXECUTOR = "executor"


ALL_ROLES: Final = frozenset(Role)


@dataclass
class Adapters:
    """The ports one process talks through, and what must run or close with them."""

    event_log: EventLog
    work_queue: WorkQueue
    stop_bus: StopBus
    heartbeats: Heartbeats
    leadership: Leadership
    snapshots: SnapshotStore
    parked: ParkedWork | None = None
    mirror: Mirror | None = None
    broker: Broker | None = None
    background: list[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=list)

    async def close(self) -> None:
        await self.event_log.close()
        await self.work_queue.close()
        if self.broker is not None:
            await self.broker.close()


async def embedded_adapters(settings: Settings) -> Adapters:
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(
            f"{settings.data_dir}: cannot make the data dir: {exc.strerror or exc}"
        ) from exc
    event_log = await FileEventLog.open(settings.data_dir / LOG_FILE, fsync=settings.fsync)
    # One process: deliveries no larger than its executor can start at once.
    work = replace(settings.work, batch=min(settings.work.batch, settings.executor.slots))
    work_queue = MemoryWorkQueue(work)
    heartbeats, leadership = MemoryHeartbeats(), SoleLeader()
    return Adapters(
        event_log=event_log,
        work_queue=work_queue,
        stop_bus=MemoryStopBus(),
        heartbeats=heartbeats,
        leadership=leadership,
        snapshots=FileSnapshots(settings.data_dir / SNAPSHOT_FILE),
        parked=work_queue,
        background=[leadership.run, heartbeats.listen],
    )


async def amqp_adapters(settings: Settings, roles: frozenset[Role]) -> Adapters:
    assert settings.amqp is not None
    name = "-".join(sorted(roles)) if roles != ALL_ROLES else "serve"
    broker = await Broker.open(settings.amqp, name)
    heartbeats = await AmqpHeartbeats.open(broker)
    work_queue = await AmqpWorkQueue.open(broker, settings.work)
    adapters = Adapters(
        event_log=await AmqpEventLog.open(broker),
        work_queue=work_queue,
        stop_bus=await AmqpStopBus.open(broker),
        heartbeats=heartbeats,
        leadership=SoleLeader(),
        snapshots=await AmqpSnapshots.open(broker),
        broker=broker,
    )
    if Role.SCHEDULER in roles:
        leadership = AmqpLeadership(broker)
        mirror = await TopicMirror.open(broker, leadership)
        adapters.leadership = leadership
        adapters.parked = work_queue
        adapters.mirror = mirror
        adapters.background += [leadership.run, heartbeats.listen, mirror.run]
    return adapters


@dataclass
class Engine:
    """The parts of one process, started and closed in the right order."""

    settings: Settings
    roles: frozenset[Role]
    adapters: Adapters
    producer: Producer
    projector: Projector | None = None
    scheduler: Scheduler | None = None
    executor: Executor | None = None
    app: web.Application | None = None
    token_path: Path | None = None
    sources: InventoryHolder | None = None  # the api's inventory and node groups
    _environments: Environments | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def environments(self) -> Environments:
        """One for the process: the api and the executor share what they have read."""
        if self._environments is None:
            self._environments = Environments(
                self.settings.sources.environments, refresh_s=self.settings.code_refresh_s
            )
        return self._environments

    @classmethod
    async def start(cls, settings: Settings, roles: frozenset[Role] = ALL_ROLES) -> Engine:
        if settings.amqp is None:
            adapters = await embedded_adapters(settings)
        else:
            adapters = await amqp_adapters(settings, roles)
        origin = f"{'-'.join(sorted(roles))}-{uuid.uuid4().hex[:12]}"
        producer = Producer(adapters.event_log, origin=origin, max_batch=settings.max_batch)
        engine = cls(settings, roles, adapters, producer)
        try:
            await engine._start_roles()
        except BaseException:
            await engine.close()
            raise
        return engine

    async def _start_roles(self) -> None:
        if Role.EXECUTOR in self.roles:
            self._check_executor_settings()
        if self.roles & {Role.API, Role.EXECUTOR}:
            try:
                self.environments.check_root()
            except BadEnvironment as exc:
                hint = "use --environments or PODIUM_ENVIRONMENTS"
                raise ConfigurationError(f"{exc} ({hint})") from exc
        for job in self.adapters.background:
            self._spawn(job(), job.__qualname__)
        if self.roles & {Role.API, Role.SCHEDULER}:
            await self._follow_log()
        self.producer.start()
        if Role.API in self.roles:
            await self._start_api()
        if Role.SCHEDULER in self.roles:
            self._start_scheduler()
        if Role.EXECUTOR in self.roles:
            self._start_executor()

    def _spawn(self, coroutine: Coroutine[Any, Any, None], name: str) -> None:
        self.tasks.append(asyncio.get_running_loop().create_task(coroutine, name=name))

    async def _follow_log(self) -> None:
        snapshot = await self.adapters.snapshots.latest()
        if snapshot is None:
            projector = Projector(self.adapters.event_log)
        else:
            log.info(
                "starting from a snapshot",
                next_offset=snapshot.next_offset,
                events=snapshot.state.position,
            )
            projector = Projector(self.adapters.event_log, snapshot.state, snapshot.next_offset)
        if self.adapters.mirror is not None:
            projector.add_listener(self.adapters.mirror.on_record)
        self.projector = projector
        self._spawn(projector.run(), "projector")
        await first_of(projector.caught_up.wait(), self.tasks)
        log.info("log folded", events=projector.state.position, jobs=len(projector.state.jobs))

    async def _start_api(self) -> None:
        settings, projector = self.settings, self.projector
        assert projector is not None
        first_api_only = settings.amqp is not None  # replicas share tokens through the log
        self.token_path = await ensure_admin_token(
            settings.data_dir, projector, self.producer, only_if_none=first_api_only
        )
        try:
            self.sources = InventoryHolder.load(
                SourceFiles(settings.sources.inventory, settings.sources.node_groups)
            )
        except SourceError as exc:
            raise ConfigurationError(str(exc)) from exc
        self.app = build_app(
            projector,
            self.producer,
            self.environments,
            self.sources,
            settings.api,
            puppetdb=_puppetdb(settings),
            health=self.health,
        )
        if settings.api.watch_s > 0:
            self._spawn(self.sources.watch(settings.api.watch_s), "inventory watcher")

    def _start_scheduler(self) -> None:
        settings, projector, adapters = self.settings, self.projector, self.adapters
        assert projector is not None
        embedded = settings.amqp is None
        scheduler = Scheduler(
            projector,
            self.producer,
            adapters.work_queue,
            adapters.stop_bus,
            adapters.heartbeats,
            # One process: an executor not heard from since start-up belonged to a dead one.
            replace(settings.scheduler, startup_grace_s=0.0) if embedded else settings.scheduler,
            leadership=adapters.leadership,
            snapshots=adapters.snapshots,
            parked=adapters.parked,
        )
        self.scheduler = scheduler
        self._spawn(scheduler.run(), "scheduler")

    def _check_executor_settings(self) -> None:
        slots, batch = self.settings.executor.slots, self.adapters.work_queue.batch
        if slots < batch:
            raise ConfigurationError(
                f"an executor needs at least as many slots ({slots}) as work items one message "
                f"carries ({batch}): it starts them together; raise --slots or lower --work-batch"
            )

    def _start_executor(self) -> None:
        settings, adapters = self.settings, self.adapters
        environments = self.environments
        transports: dict[str, Transport] = {
            "sim": SimTransport(),
            "local": LocalTransport(
                environments,
                LocalSettings(settings.executor.max_output_bytes, settings.executor.base_env),
            ),
            "ssh": SshTransport(environments, SshSettings(settings.executor.max_output_bytes)),
        }
        self.executor = Executor(
            f"executor-{uuid.uuid4().hex[:12]}",
            adapters.work_queue,
            adapters.stop_bus,
            self.producer,
            adapters.heartbeats,
            transports,
            settings.executor,
        )
        self._spawn(self.executor.run(), "executor")

    def health(self) -> Health:
        """Error while the broker is away, starting while the log is being folded."""
        status: dict[str, object] = {"roles": sorted(self.roles)}
        state = "running"
        broker = self.adapters.broker
        if broker is not None:
            status["broker"] = "connected" if broker.is_up else "disconnected"
            state = "running" if broker.is_up else "error"
        if self.projector is not None:
            folded = projector_health(self.projector)
            status.update(folded.status)
            if state == "running":
                state = folded.state
        if self.scheduler is not None:
            status["scheduler"] = "leader" if self.scheduler.leading else "standby"
        if self.executor is not None:
            status["executor"] = self.executor.id
            status["runs_in_progress"] = self.executor.in_progress
        return Health(state, status)

    async def close(self) -> None:
        """Stop deciding, drain runs, flush the log, then let go of everything."""
        if self.scheduler is not None:
            await self.scheduler.close()
        if self.executor is not None:
            await self.executor.close()
        await self.producer.close()
        await self.adapters.close()
        for task in self.tasks:
            task.cancel()
        results = await asyncio.gather(*self.tasks, return_exceptions=True)
        for task, result in zip(self.tasks, results, strict=True):
            if isinstance(result, Exception):
                log.error("role failed", role=task.get_name(), error=repr(result))


def _puppetdb(settings: Settings) -> PuppetDb | None:
    return None if settings.puppetdb is None else PuppetDb(settings.puppetdb)


async def first_of(awaitable: Awaitable[object], tasks: list[asyncio.Task[None]]) -> None:
    """Wait for `awaitable`, unless one of `tasks` ends first: a task ending early is a fault."""
    waiter = asyncio.ensure_future(awaitable)
    done, _ = await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
    if waiter in done:
        return
    waiter.cancel()
    await asyncio.wait([waiter])  # never swallows a cancellation of the caller, as suppress would
    for task in done:
        error = task.exception()
        raise RuntimeError(f"{task.get_name()} stopped unexpectedly: {error!r}") from error
