"""`podium serve`: api, scheduler and executor in one process over the embedded adapters.

One projector folds the file log for both the api and the scheduler, one producer batches the
appends of all three roles. SIGTERM or SIGINT shuts down in order: stop taking requests, stop
dispatching, let runs in progress finish (or record them), flush the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import structlog
from aiohttp import web

from libs.environments import Environments
from libs.events.filelog import FileEventLog
from libs.events.memory import MemoryHeartbeats, MemoryStopBus, MemoryWorkQueue
from libs.events.producer import Producer
from libs.events.projector import Projector
from libs.inventory import load_inventory
from podium.settings import ServeSettings
from podium.tokens import ensure_admin_token
from services.api.app import build_app
from services.api.keys import ApiSettings, InventoryHolder
from services.executor.executor import Executor, ExecutorSettings
from services.executor.transports.base import Transport
from services.executor.transports.local import LocalSettings, LocalTransport
from services.executor.transports.sim import SimTransport
from services.scheduler.scheduler import Scheduler, SchedulerSettings

log = structlog.get_logger(__name__)
LOG_FILE: Final = "events.log"


@dataclass
class Embedded:
    """Every part of one `podium serve` process, started and closed in the right order."""

    settings: ServeSettings
    event_log: FileEventLog
    projector: Projector
    producer: Producer
    scheduler: Scheduler
    executor: Executor
    app: web.Application
    token_path: Path
    roles: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    async def start(cls, settings: ServeSettings) -> Embedded:
        inventory = InventoryHolder(load_inventory(settings.inventory))
        environments = Environments(settings.environments)
        event_log = await FileEventLog.open(settings.data_dir / LOG_FILE, fsync=settings.fsync)
        projector = Projector(event_log)
        producer = Producer(event_log, origin=f"serve-{uuid.uuid4().hex[:12]}")
        roles = [asyncio.create_task(projector.run(), name="projector")]
        await first_of(projector.caught_up.wait(), roles)
        log.info("log folded", events=projector.state.position, jobs=len(projector.state.jobs))
        producer.start()
        token_path = await ensure_admin_token(settings.data_dir, projector, producer)
        work_queue, stop_bus, heartbeats = MemoryWorkQueue(), MemoryStopBus(), MemoryHeartbeats()
        scheduler = Scheduler(
            projector,
            producer,
            work_queue,
            stop_bus,
            heartbeats,
            # In one process, an executor not heard from since start-up belonged to a dead one.
            SchedulerSettings(max_inflight=settings.max_inflight, startup_grace_s=0.0),
        )
        transports: dict[str, Transport] = {
            "sim": SimTransport(),
            "local": LocalTransport(environments, LocalSettings()),
        }
        executor = Executor(
            f"executor-{uuid.uuid4().hex[:12]}",
            work_queue,
            stop_bus,
            producer,
            heartbeats,
            transports,
            ExecutorSettings(
                slots=settings.executor_slots, shutdown_grace_s=settings.shutdown_grace_s
            ),
        )
        roles += [
            asyncio.create_task(executor.run(), name="executor"),
            asyncio.create_task(scheduler.run(), name="scheduler"),
        ]
        app = build_app(
            projector, producer, environments, inventory, ApiSettings(settings.public_url)
        )
        return cls(
            settings, event_log, projector, producer, scheduler, executor, app, token_path, roles
        )

    async def close(self) -> None:
        """Stop dispatching, drain runs, flush the log. The caller stops HTTP first."""
        await self.scheduler.close()
        await self.executor.close()
        await self.producer.close()
        await self.event_log.close()
        for task in self.roles:
            task.cancel()
        results = await asyncio.gather(*self.roles, return_exceptions=True)
        for task, result in zip(self.roles, results, strict=True):
            if isinstance(result, Exception):
                log.error("role failed", role=task.get_name(), error=repr(result))


async def serve(settings: ServeSettings) -> None:
    engine = await Embedded.start(settings)
    runner = web.AppRunner(engine.app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    url = f"http://{settings.host}:{settings.port}/orchestrator/v1"
    token = engine.token_path.resolve()
    log.info("podium is serving", url=url, admin_token_file=str(token))
    print(f"Podium is serving {url}\nAdmin token: {token}", flush=True)
    try:
        await first_of(_signalled(), engine.roles)
        log.info("shutting down")
    finally:
        await runner.cleanup()
        await engine.close()
    log.info("stopped")


async def _signalled() -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


async def first_of(awaitable: Awaitable[object], roles: list[asyncio.Task[None]]) -> None:
    """Wait for `awaitable`, unless a role ends first: a role ending early is a fault."""
    waiter = asyncio.ensure_future(awaitable)
    done, _ = await asyncio.wait([waiter, *roles], return_when=asyncio.FIRST_COMPLETED)
    if waiter in done:
        return
    waiter.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiter
    for task in done:
        error = task.exception()
        raise RuntimeError(f"{task.get_name()} stopped unexpectedly") from error
