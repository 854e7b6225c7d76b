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
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack, contextmanager
from pathlib import Path
from typing import Final

import structlog
from aiohttp import web

from podium.engine import ALL_ROLES, ConfigurationError, Engine, Role, first_of
from podium.health import status_app
from podium.heap import freeze_startup
from podium.settings import Settings
from podium.webserver import app_runner

log = structlog.get_logger(__name__)

# Connections the kernel completes and queues while the event loop is busy elsewhere (capped by
# net.core.somaxconn). Past a full queue the kernel drops a client's SYN and the client tries
# again only after its first retransmission timeout, a whole second: with aiohttp's default of
# 128, a burst of new clients against a busy api turned milliseconds into seconds.
LISTEN_BACKLOG: Final = 4096


async def serve(settings: Settings, roles: frozenset[Role] = ALL_ROLES) -> None:
    """Run until SIGTERM or SIGINT. Raises ConfigurationError when the process cannot start (a
    port in use, a bad file). Stops taking requests first, then closes the engine."""
    async with AsyncExitStack() as stack:
        engine = await stack.enter_async_context(Engine(settings, roles))
        log.debug("startup objects frozen", objects=freeze_startup())
        if Role.API in roles:
            api = engine.api
            runner = await _site(
                app_runner(api.app, settings.api.request_timeout_s),
                settings.host,
                settings.api.port,
                "--port or PODIUM_PORT",
            )
            stack.push_async_callback(runner.cleanup)
            _say_serving(settings, roles, api.token_path)
            stack.enter_context(_reloading_on_sighup(api.sources.try_reload))
        else:
            if settings.status_port is not None:
                runner = await _site(
                    app_runner(status_app(engine.health), settings.api.request_timeout_s),
                    settings.host,
                    settings.status_port,
                    "--status-port or PODIUM_STATUS_PORT",
                )
                stack.push_async_callback(runner.cleanup)
            log.info("podium is running", roles=sorted(roles), status_port=settings.status_port)
        await first_of(_signalled(), engine.tasks)
        log.info("shutting down")
    log.info("stopped")


def _say_serving(settings: Settings, roles: frozenset[Role], token: Path | None) -> None:
    root = f"http://{settings.host}:{settings.api.port}"
    url = f"{root}/orchestrator/v1"
    where = token.resolve() if token is not None else None
    log.info("podium is serving", url=url, admin_token_file=str(where), roles=sorted(roles))
    print(f"Podium is serving {url}", flush=True)
    print(f"Web view: {root}/", flush=True)
    shown = where if where is not None else "in the data dir of the api replica that made it"
    print(f"Admin token: {shown}", flush=True)


@contextmanager
def _reloading_on_sighup(reload: Callable[[], object]) -> Iterator[None]:
    """SIGHUP reloads the inventory and node groups while the api serves."""
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGHUP, reload)
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGHUP)


async def _site(runner: web.AppRunner, host: str, port: int, hint: str) -> web.AppRunner:
    """The runner, listening on host:port. Raises ConfigurationError when it cannot listen."""
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, backlog=LISTEN_BACKLOG).start()
    except OSError as exc:
        await runner.cleanup()
        reason = "address in use" if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)
        raise ConfigurationError(f"cannot listen on {host}:{port}: {reason} (use {hint})") from exc
    return runner


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
