"""Assembling one process: its adapters (`podium.adapters`) and the roles it runs.

`podium serve` runs all three roles, over the embedded adapters or, with `--amqp-url`, over
RabbitMQ; `podium api`, `podium scheduler` and `podium executor` run one role each on RabbitMQ.
The roles are the same code either way; only the adapters differ.

Everything a process starts goes on one `AsyncExitStack`, in order: the adapters, the projector,
the producer, then the executor, the api and the scheduler. Closing unwinds it: the scheduler
stops deciding, the api's watcher stops, the executor lets its runs finish, the producer flushes
the log, and the adapters close last. A role's code is imported only by a process that runs it:
a scheduler or an executor never loads the HTTP API.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

import structlog

from podium.adapters import ALL_ROLES, Adapters, ConfigurationError, Role, open_adapters
from podium.environments import BadEnvironment, Environments
from podium.events.amqp.log import AmqpEventLog
from podium.events.amqp.snapshots import AmqpSnapshots
from podium.events.forgetting import Forgetting
from podium.events.ports import LogCorrupted, LogTruncated, LogUnavailable
from podium.events.producer import Producer
from podium.events.projector import ArchiveHook, Projector
from podium.events.state import State
from podium.health import Health, combined, projector_health
from podium.settings import Settings

if TYPE_CHECKING:
    from aiohttp import web

    from podium.api.sources import InventoryHolder
    from podium.events.filelog import FileEventLog
    from podium.executor.executor import Executor
    from podium.history.archive import Archive
    from podium.history.store import Checkpoint
    from podium.scheduler.scheduler import Scheduler

__all__ = ["ALL_ROLES", "ConfigurationError", "Engine", "Role", "first_of"]
log = structlog.get_logger(__name__)
FOLLOWS_THE_LOG: Final = frozenset({Role.API, Role.SCHEDULER})
READS_CODE: Final = frozenset({Role.API, Role.EXECUTOR})
_REBUILD_ATTEMPTS: Final = 5  # snapshots tried in turn while retention moves past each
R = TypeVar("R")


class RoleNotRunning(LookupError):
    """Raised when asking a process for a role it does not run."""


@dataclass(frozen=True, slots=True)
class ApiRole:
    """The api of a process: the app to serve, its inventory and node groups, and the admin
    token's file (None: another api replica made the token)."""

    app: web.Application
    sources: InventoryHolder
    token_path: Path | None


class Engine:
    """One process, as `async with Engine(settings, roles) as engine:` (or `start`/`close`)."""

    def __init__(self, settings: Settings, roles: frozenset[Role] = ALL_ROLES) -> None:
        self.settings = settings
        self.roles = roles
        self.tasks: list[asyncio.Task[None]] = []  # what runs in the background; none may end
        self._stack = AsyncExitStack()
        self._health: list[Callable[[], Health]] = []
        self._environments: Environments | None = None
        self._adapters: Adapters | None = None
        self._projector: Projector | None = None
        self._archive: Archive | None = None
        self.folded_at_start = 0  # events the projector folded to catch up: the log's tail
        self._api: ApiRole | None = None
        self._scheduler: Scheduler | None = None
        self._executor: Executor | None = None

    @classmethod
    async def start(cls, settings: Settings, roles: frozenset[Role] = ALL_ROLES) -> Engine:
        return await cls(settings, roles).__aenter__()

    async def close(self) -> None:
        """Stop deciding, drain runs, flush the log, then let go of everything."""
        await self._stack.aclose()

    async def __aenter__(self) -> Engine:
        try:
            await self._start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def adapters(self) -> Adapters:
        return _running(self._adapters, "its adapters yet")

    @property
    def projector(self) -> Projector:
        return _running(self._projector, "a projector")

    @property
    def archive(self) -> Archive:
        """The api's projection of ended jobs (docs/history.md)."""
        return _running(self._archive, "an archive of ended jobs")

    @property
    def api(self) -> ApiRole:
        return _running(self._api, "the api")

    @property
    def scheduler(self) -> Scheduler:
        return _running(self._scheduler, "a scheduler")

    @property
    def executor(self) -> Executor:
        return _running(self._executor, "an executor")

    def health(self) -> Health:
        """Error while the broker is away, starting while the log is being folded."""
        return combined(part() for part in self._health)

    async def _start(self) -> None:
        roles = self.roles
        self._health.append(lambda: Health("running", {"roles": sorted(roles)}))
        adapters = await self._stack.enter_async_context(open_adapters(self.settings, roles))
        self._adapters = adapters
        self._health.append(adapters.health)
        self._check(adapters)
        projector = await self._follow_log(adapters) if roles & FOLLOWS_THE_LOG else None
        producer = self._start_producer(adapters)
        if Role.EXECUTOR in roles:
            self._executor = self._start_executor(adapters, producer)
        if projector is not None and Role.API in roles:
            self._api = await self._start_api(adapters, projector, producer)
        if projector is not None and Role.SCHEDULER in roles:
            self._scheduler = self._start_scheduler(adapters, projector, producer)

    def _spawn(self, coroutine: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Run in the background until the stack unwinds to here."""
        task = asyncio.get_running_loop().create_task(coroutine, name=name)
        self.tasks.append(task)
        self._stack.push_async_callback(self._stopped, task)
        return task

    async def _stopped(self, task: asyncio.Task[None]) -> None:
        """Cancel a background task and wait for it; one that had failed is logged (unless it
        was retired, its failure dealt with: a projector started again)."""
        task.cancel()
        await asyncio.wait([task])
        if not task.cancelled() and task.exception() is not None and task in self.tasks:
            log.error("role failed", role=task.get_name(), error=repr(task.exception()))

    def _code(self) -> Environments:
        """One for the process: the api and the executor share what they have read."""
        if self._environments is None:
            self._environments = Environments(
                self.settings.sources.environments, refresh_s=self.settings.code_refresh_s
            )
        return self._environments

    def _check(self, adapters: Adapters) -> None:
        """Raises ConfigurationError for settings that cannot work together."""
        slots, batch = self.settings.executor.slots, adapters.work_queue.batch
        if Role.EXECUTOR in self.roles and slots < batch:
            raise ConfigurationError(
                f"an executor needs at least as many slots ({slots}) as work items one message "
                f"carries ({batch}): it starts them together; raise --slots or lower --work-batch"
            )
        if self.roles & READS_CODE:
            try:
                self._code().check_root()
            except BadEnvironment as exc:
                hint = "use --environments or PODIUM_ENVIRONMENTS"
                raise ConfigurationError(f"{exc} ({hint})") from exc

    async def _follow_log(self, adapters: Adapters) -> Projector:
        snapshot = None
        if Role.API not in self.roles or not isinstance(adapters.event_log, AmqpEventLog):
            try:  # an embedded one is checked against the log, used or not
                snapshot = await adapters.snapshots.latest()
            except LogCorrupted as exc:
                raise ConfigurationError(str(exc)) from exc
        # An api keeps what has ended in its projection; a scheduler alone forgets it.
        archive, checkpoint = (
            await self._open_archive(adapters) if Role.API in self.roles else (None, None)
        )
        from_stream_snapshot = False
        if checkpoint is not None:
            log.info("starting from the projection", next_offset=checkpoint.next_offset)
            state, offset, chain = checkpoint
        elif archive is not None:
            # A projection to build: from the log's start, or on RabbitMQ, from the oldest
            # snapshot from which what the stream still holds can be folded.
            state, offset, chain = await self._rebuild_from(adapters)
            from_stream_snapshot = offset > 0 and adapters.file_log is None
        elif snapshot is not None:
            log.info(
                "starting from a snapshot",
                next_offset=snapshot.next_offset,
                events=snapshot.state.position,
            )
            state, offset, chain = snapshot.state, snapshot.next_offset, snapshot.chain
        else:
            state, offset, chain = State(), 0, b""
        hook: ArchiveHook
        if archive is not None:
            hook = archive
            archive.start(state, offset, chain)
        else:
            hook = forgetting = Forgetting()
            forgetting.start(state)
        projector = self._projector_from(adapters, hook, state, offset, chain)
        if archive is not None:
            self._prune_segments(adapters, archive, projector)
        self._projector = projector
        self._health.append(lambda: projector_health(self.projector))
        again = archive if from_stream_snapshot else None
        projector = await self._folded_from(adapters, projector, again)
        self.folded_at_start = projector.folded
        log.info(
            "log folded",
            events=projector.state.position,
            folded=projector.folded,
            live_jobs=len(projector.state.jobs),
        )
        return projector

    async def _folded_from(
        self, adapters: Adapters, projector: Projector, again: Archive | None
    ) -> Projector:
        """Run the projector until it has caught up. `again`: the archive of a projection being
        built from the oldest snapshot the stream covered, which retention may pass between
        the choice and the first read (the snapshot is at its edge): nothing was folded then,
        so begin again from the oldest covered now."""
        attempts = 1
        while True:
            folding = self._spawn(projector.run(), "projector")
            try:
                await self._caught_up(projector)
                return projector
            except ConfigurationError as exc:
                truncated = isinstance(exc.__cause__, LogTruncated)
                if again is None or not truncated or attempts == _REBUILD_ATTEMPTS:
                    raise
            attempts += 1
            log.warning("retention moved past the snapshot; building from a newer one")
            self.tasks.remove(folding)
            state, offset, chain = await self._rebuild_from(adapters)
            again.begin_again(state, offset, chain)
            projector = self._projector = self._projector_from(
                adapters, again, state, offset, chain
            )

    def _projector_from(
        self, adapters: Adapters, hook: ArchiveHook, state: State, offset: int, chain: bytes
    ) -> Projector:
        projector = Projector(adapters.event_log, state, offset, chain, hook)
        if adapters.mirror is not None:
            projector.add_listener(adapters.mirror.on_record)
        return projector

    async def _rebuild_from(self, adapters: Adapters) -> tuple[State, int, bytes]:
        """Where a projection is built from: the log's start while the log holds it (always,
        embedded). A stream whose retention has dropped its start: the oldest snapshot it still
        covers, so that every job that ended after that snapshot is rebuilt (those that ended
        before it are not: a fold from the stream's first record would not know the names and
        ids that came before). Raises ConfigurationError when no snapshot is covered."""
        event_log, snapshots = adapters.event_log, adapters.snapshots
        if adapters.file_log is not None:
            return await self._embedded_start(adapters.file_log)
        if not isinstance(event_log, AmqpEventLog) or not isinstance(snapshots, AmqpSnapshots):
            return State(), 0, b""
        first = await event_log.first_offset()
        if first == 0:
            return State(), 0, b""  # the stream holds the whole log
        # At the edge of retention: if it passes the snapshot before the projector's first
        # read, the projector begins again from a newer one (`_folded_from`).
        snapshot = await snapshots.covering(first)
        if snapshot is None:
            raise ConfigurationError(
                f"the log on RabbitMQ starts at offset {first} (retention dropped what came "
                "before) and no snapshot covers it: the projection cannot be built"
            )
        log.info(
            "building the projection from a snapshot",
            next_offset=snapshot.next_offset,
            log_starts_at=first,
            events=snapshot.state.position,
        )
        return snapshot.state, snapshot.next_offset, snapshot.chain

    async def _caught_up(self, projector: Projector) -> None:
        """Raises ConfigurationError when the fold met a damaged record (or a deleted one)."""
        try:
            await first_of(projector.caught_up.wait(), self.tasks)
        except RuntimeError as exc:
            if isinstance(exc.__cause__, LogCorrupted | LogTruncated):
                raise ConfigurationError(str(exc.__cause__)) from exc.__cause__
            raise

    async def _embedded_start(self, file_log: FileEventLog) -> tuple[State, int, bytes]:
        """The embedded log's start, or the base snapshot its pruning kept when older segments
        were deleted. Raises ConfigurationError when that base is gone or does not fit."""
        from podium.events.snapshots import start_of

        try:
            start = await start_of(file_log)
        except (LogTruncated, LogCorrupted) as exc:
            raise ConfigurationError(str(exc)) from exc
        if start is None:
            return State(), 0, b""
        log.info(
            "building the projection from the log's base snapshot", next_offset=start.next_offset
        )
        return start.state, start.next_offset, start.chain

    def _prune_segments(self, adapters: Adapters, archive: Archive, projector: Projector) -> None:
        """The embedded log's owner deletes its old segments once pruning allows."""
        from podium.events.snapshots import FileSnapshots
        from podium.history.logprune import SegmentPruner

        snapshots = adapters.snapshots
        if adapters.file_log is not None and isinstance(snapshots, FileSnapshots):
            pruner = SegmentPruner(adapters.file_log, archive, projector, snapshots)
            self._spawn(pruner.run(), "log pruner")

    async def _open_archive(self, adapters: Adapters) -> tuple[Archive, Checkpoint | None]:
        """The api's projection; one whose checkpoint does not fit the embedded log (a log
        repaired or replaced since) is set aside and built again, and so is one whose
        checkpoint the stream on RabbitMQ no longer holds (moved aside, as `.behind`)."""
        from podium.events.filelog import FileEventLog
        from podium.history.archive import Archive
        from podium.history.rebuild import remove_projection
        from podium.history.store import claim, move_aside

        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        path, lock = claim(self.settings.data_dir)  # replicas sharing the dir: one file each
        self._stack.callback(os.close, lock)  # let go once the archive is closed
        archive, checkpoint = await Archive.open(path)
        event_log = adapters.event_log
        if checkpoint is not None and isinstance(event_log, FileEventLog):
            try:
                await event_log.check_snapshot(path, checkpoint.next_offset, checkpoint.chain)
            except LogCorrupted as exc:
                log.warning("projection does not fit the log; rebuilding it", why=str(exc))
                await archive.close(checkpoint=False)
                remove_projection(path)
                archive, checkpoint = await Archive.open(path)
        if checkpoint is not None and isinstance(event_log, AmqpEventLog):
            first = await event_log.first_offset()
            if checkpoint.next_offset < first:
                log.warning(
                    "the log no longer holds the projection's checkpoint; rebuilding it",
                    checkpoint=checkpoint.next_offset,
                    log_starts_at=first,
                    moved_to=f"{path.name}.behind",
                )
                await archive.close(checkpoint=False)
                move_aside(path, ".behind")
                archive, checkpoint = await Archive.open(path)
        self._archive = archive
        self._stack.push_async_callback(archive.close)  # after the projector has stopped
        return archive, checkpoint

    def _start_producer(self, adapters: Adapters) -> Producer:
        origin = f"{'-'.join(sorted(self.roles))}-{uuid.uuid4().hex[:12]}"
        producer = Producer(adapters.event_log, origin=origin, max_batch=self.settings.max_batch)
        producer.start()
        self._stack.push_async_callback(producer.close)
        return producer

    async def _start_api(
        self, adapters: Adapters, projector: Projector, producer: Producer
    ) -> ApiRole:
        # Imported here: only a process serving the api loads it.
        from podium.api.app import build_app
        from podium.api.puppetdb import PuppetDb
        from podium.api.sources import InventoryHolder, SourceError, SourceFiles
        from podium.tokens import ensure_admin_token

        settings = self.settings
        first_api_only = settings.amqp is not None  # replicas share tokens through the log
        try:
            token_path = await ensure_admin_token(
                settings.data_dir, projector, producer, only_if_none=first_api_only
            )
        except LogUnavailable as exc:  # e.g. a full disk: nothing was recorded
            raise ConfigurationError(f"cannot record the built-in identity: {exc}") from exc
        except OSError as exc:
            where = exc.filename or settings.data_dir
            raise ConfigurationError(
                f"{where}: cannot write the admin token: {exc.strerror}"
            ) from exc
        files = SourceFiles(settings.sources.inventory, settings.sources.node_groups)
        try:
            sources = InventoryHolder.load(files)
        except SourceError as exc:
            raise ConfigurationError(str(exc)) from exc
        puppetdb = None if settings.puppetdb is None else PuppetDb(settings.puppetdb)
        app = build_app(
            projector,
            producer,
            adapters.event_log,
            self._code(),
            sources,
            settings.api,
            puppetdb=puppetdb,
            health=self.health,
            archive=self._archive,
        )
        if settings.api.watch_s > 0:
            self._spawn(sources.watch(settings.api.watch_s), "inventory watcher")
        return ApiRole(app, sources, token_path)

    def _start_scheduler(
        self, adapters: Adapters, projector: Projector, producer: Producer
    ) -> Scheduler:
        from podium.inventory.watched import InventoryFile
        from podium.scheduler.plans import PlanRunner
        from podium.scheduler.scheduler import Scheduler

        settings = self.settings.scheduler
        if self.settings.amqp is None:
            # One process: an executor not heard from since start-up belonged to a dead one.
            settings = replace(settings, startup_grace_s=0.0)
        scheduler = Scheduler(
            projector,
            producer,
            adapters.work_queue,
            adapters.stop_bus,
            adapters.heartbeats,
            settings,
            leadership=adapters.leadership,
            snapshots=adapters.snapshots,
            parked=adapters.parked,
            plans=PlanRunner(
                projector,
                producer,
                InventoryFile(self.settings.sources.inventory).current,
                tick_s=settings.tick_s,
                retry_s=settings.retry_s,
            ),
        )
        self._spawn(adapters.leadership.run(), "leadership")
        self._spawn(adapters.heartbeats.listen(), "heartbeats")
        if adapters.mirror is not None:
            self._spawn(adapters.mirror.run(), "mirror")
        self._spawn(scheduler.run(), "scheduler")
        self._stack.push_async_callback(scheduler.close)
        self._health.append(
            lambda: Health("running", {"scheduler": "leader" if scheduler.leading else "standby"})
        )
        return scheduler

    def _start_executor(self, adapters: Adapters, producer: Producer) -> Executor:
        from podium.executor.executor import Executor
        from podium.executor.transports.base import Transport
        from podium.executor.transports.local import LocalSettings, LocalTransport
        from podium.executor.transports.sim import SimTransport
        from podium.executor.transports.ssh import SshSettings, SshTransport

        settings, code = self.settings.executor, self._code()
        transports: dict[str, Transport] = {
            "sim": SimTransport(),
            "local": LocalTransport(
                code, LocalSettings(settings.max_output_bytes, settings.base_env)
            ),
            "ssh": SshTransport(code, SshSettings(settings.max_output_bytes)),
        }
        executor = Executor(
            f"executor-{uuid.uuid4().hex[:12]}",
            adapters.work_queue,
            adapters.stop_bus,
            producer,
            adapters.heartbeats,
            transports,
            settings,
        )
        self._spawn(executor.run(), "executor")
        self._stack.push_async_callback(executor.close)
        self._health.append(
            lambda: Health(
                "running",
                {
                    "executor": executor.id,
                    "runs_in_progress": executor.in_progress,
                    "runs_unreported": executor.unreported,
                },
            )
        )
        return executor


def _running(role: R | None, what: str) -> R:
    if role is None:
        raise RoleNotRunning(f"this process does not run {what}")
    return role


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
