"""Running a podium process until it is told to stop.

`serve` starts an `Engine` for the given roles, serves HTTP if the api is among them, and on
SIGTERM or SIGINT shuts down in order: stop taking requests, stop dispatching, let runs in
progress finish (or record them), flush the log, exit 0. SIGHUP makes the api reload the
inventory and node-groups files (a file that does not load leaves the previous one in force).
"""

from __future__ import annotations

import asyncio
import errno
import signal

import structlog
from aiohttp import web

from podium.api.runner import api_runner
from podium.api.status import status_app
from podium.engine import ALL_ROLES, ConfigurationError, Engine, Role, first_of
from podium.settings import Settings

log = structlog.get_logger(__name__)


async def serve(settings: Settings, roles: frozenset[Role] = ALL_ROLES) -> None:
    """Raises ConfigurationError when the process cannot start (a port in use, a bad file)."""
    engine = await Engine.start(settings, roles)
    try:
        runner = await _listen(engine, settings, roles)
    except BaseException:
        await engine.close()
        raise
    await _serve_until_signalled(engine, runner)
    log.info("stopped")


async def _listen(
    engine: Engine, settings: Settings, roles: frozenset[Role]
) -> web.AppRunner | None:
    runner = None
    if engine.app is not None:
        runner = await _site(
            api_runner(engine.app, settings.api.request_timeout_s),
            settings.host,
            settings.api.port,
            "--port or PODIUM_PORT",
        )
        url = f"http://{settings.host}:{settings.api.port}/orchestrator/v1"
        token = engine.token_path.resolve() if engine.token_path else None
        log.info("podium is serving", url=url, admin_token_file=str(token), roles=sorted(roles))
        print(f"Podium is serving {url}", flush=True)
        where = token if token is not None else "in the data dir of the api replica that made it"
        print(f"Admin token: {where}", flush=True)
    else:
        if settings.status_port is not None:
            runner = await _site(
                api_runner(status_app(engine.health), settings.api.request_timeout_s),
                settings.host,
                settings.status_port,
                "--status-port or PODIUM_STATUS_PORT",
            )
        log.info("podium is running", roles=sorted(roles), status_port=settings.status_port)
    return runner


async def _site(runner: web.AppRunner, host: str, port: int, hint: str) -> web.AppRunner:
    """The runner, listening on host:port. Raises ConfigurationError when it cannot listen."""
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        reason = "address in use" if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)
        raise ConfigurationError(f"cannot listen on {host}:{port}: {reason} (use {hint})") from exc
    return runner


async def _serve_until_signalled(engine: Engine, runner: web.AppRunner | None) -> None:
    loop = asyncio.get_running_loop()
    if engine.sources is not None:
        loop.add_signal_handler(signal.SIGHUP, engine.sources.try_reload)
    try:
        await first_of(_signalled(), engine.tasks)
        log.info("shutting down")
    finally:
        if engine.sources is not None:
            loop.remove_signal_handler(signal.SIGHUP)
        if runner is not None:
            await runner.cleanup()
        await engine.close()


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
