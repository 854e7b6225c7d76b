"""How a process is, and the `/status/v1` endpoints that say it (no token needed).

The api serves them on its port; a scheduler or an executor on `--status-port`. They live
outside `podium.api` so that a process that serves no API does not load it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final

from aiohttp import web

from podium.events.projector import Projector
from podium.jsontypes import Json

SERVICE: Final = "orchestrator-service"
VERSION: Final = "0.1.0"
_WORST_FIRST: Final = ("error", "starting", "running")


@dataclass(frozen=True, slots=True)
class Health:
    """How a process is: `state` is running, starting (still folding the log) or error (the
    broker is away); `status` says why, for people."""

    state: str
    status: dict[str, Json]

    @property
    def running(self) -> bool:
        return self.state == "running"


def projector_health(projector: Projector) -> Health:
    """The api's health when nothing else is known: running once the log is folded."""
    state = "running" if projector.caught_up.is_set() else "starting"
    return Health(state, _log_status(projector))


def _log_status(projector: Projector) -> dict[str, Json]:
    return {"log_position": projector.state.position, "active_jobs": len(projector.state.active)}


HEALTH: web.AppKey[Callable[[], Health]] = web.AppKey("health")


def _service_status(request: web.Request) -> tuple[bool, dict[str, Json]]:
    health = request.app[HEALTH]()
    return health.running, {
        "service_version": VERSION,
        "service_status_version": 1,
        "detail_level": request.query.get("level", "info"),
        "state": health.state,
        "status": health.status,
        "active_alerts": [],
    }


async def services(request: web.Request) -> web.Response:
    """GET /status/v1/services"""
    running, entry = _service_status(request)
    return web.json_response({SERVICE: entry}, status=200 if running else 503)


async def service(request: web.Request) -> web.Response:
    """GET /status/v1/services/<name>"""
    if request.match_info["name"] != SERVICE:
        raise web.HTTPNotFound()
    running, entry = _service_status(request)
    return web.json_response(entry, status=200 if running else 503)


async def orchestrator_status(request: web.Request) -> web.Response:
    """GET /orchestrator/v1/status: the service's entry, as the root's `status` link promises."""
    running, entry = _service_status(request)
    return web.json_response(entry, status=200 if running else 503)


async def simple(request: web.Request) -> web.Response:
    """GET /status/v1/simple: plain text."""
    health = request.app[HEALTH]()
    return web.Response(text=health.state, status=200 if health.running else 503)


STATUS_ROUTES: Final = [
    web.get("/status/v1/services", services),
    web.get("/status/v1/services/{name}", service),
    web.get("/status/v1/simple", simple),
]


def status_app(health: Callable[[], Health]) -> web.Application:
    """The health endpoints alone, for the roles that serve no API."""
    app = web.Application()
    app[HEALTH] = health
    app.add_routes(STATUS_ROUTES)
    return app


def combined(parts: Iterable[Health]) -> Health:
    """One process's health from its parts': the worst state, and every part's status."""
    status: dict[str, Json] = {}
    states = set()
    for part in parts:
        status.update(part.status)
        states.add(part.state)
    state = next((s for s in _WORST_FIRST if s in states), "running")
    return Health(state, status)
