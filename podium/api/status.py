"""Health checks (no token needed), the API root, and the OpenAPI document."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from aiohttp import web

from podium.api.bodies import openapi_schemas
from podium.api.keys import base_url
from podium.events.projector import Projector
from podium.jsontypes import Json

SERVICE: Final = "orchestrator-service"
VERSION: Final = "0.1.0"
COMMANDS: Final = ("deploy", "task", "stop", "task_target")
COLLECTIONS: Final = ("jobs", "tasks", "environments", "inventory", "node_groups")


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


async def root(request: web.Request) -> web.Response:
    """GET /orchestrator/v1"""
    base = base_url(request)
    return web.json_response(
        {
            "info": {
                "title": "Podium orchestrator API",
                "description": "An event-sourced job engine for the Puppet orchestrator v1 API",
                "warning": "",
                "version": VERSION,
                "license": {
                    "name": "Apache-2.0",
                    "url": "https://www.apache.org/licenses/LICENSE-2.0",
                },
            },
            "status": {"name": "status", "id": f"{base}/status"},
            "collections": [{"name": name, "id": f"{base}/{name}"} for name in COLLECTIONS],
            "commands": [{"name": name, "id": f"{base}/command/{name}"} for name in COMMANDS],
        }
    )


async def openapi(request: web.Request) -> web.Response:
    """GET /orchestrator/v1/openapi.json"""

    def command(schema: str, answer: str) -> Json:
        return {
            "post": {
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}
                    },
                },
                "responses": {
                    answer: {"description": "accepted"},
                    "400": {"description": "invalid"},
                },
            }
        }

    return web.json_response(
        {
            "openapi": "3.1.0",
            "info": {"title": "Podium orchestrator API", "version": VERSION},
            "servers": [{"url": base_url(request)}],
            "components": {
                "schemas": openapi_schemas(),
                "securitySchemes": {
                    "token": {"type": "apiKey", "in": "header", "name": "X-Authentication"}
                },
            },
            "security": [{"token": []}],
            "paths": {
                "/command/deploy": command("DeployCommand", "202"),
                "/command/task": command("TaskCommand", "202"),
                "/command/stop": command("StopCommand", "202"),
                "/inventory": command("InventoryQuery", "200"),
            },
        }
    )
