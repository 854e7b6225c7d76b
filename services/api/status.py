"""Health checks (no token needed), the API root, and the OpenAPI document."""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from services.api.bodies import openapi_schemas
from services.api.keys import PROJECTOR, base_url

Json = Any
SERVICE: Final = "orchestrator-service"
VERSION: Final = "0.1.0"
COMMANDS: Final = ("deploy", "task", "stop")
COLLECTIONS: Final = ("jobs", "tasks", "inventory", "node_groups")


def _service_status(request: web.Request) -> tuple[bool, dict[str, Json]]:
    projector = request.app[PROJECTOR]
    running = projector.caught_up.is_set()
    return running, {
        "service_version": VERSION,
        "service_status_version": 1,
        "detail_level": request.query.get("level", "info"),
        "state": "running" if running else "starting",
        "status": {
            "log_position": projector.state.position,
            "active_jobs": len(projector.state.active),
        },
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


async def simple(request: web.Request) -> web.Response:
    """GET /status/v1/simple: plain text."""
    running, _ = _service_status(request)
    return web.Response(text="running" if running else "starting", status=200 if running else 503)


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
