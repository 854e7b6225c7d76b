"""The API root. (The health endpoints are `podium.health`'s, the OpenAPI document `docs`'.)"""

from __future__ import annotations

from typing import Final

from aiohttp import web

from podium.api.keys import base_url
from podium.health import VERSION

COMMANDS: Final = (
    "deploy",
    "task",
    "stop",
    "task_target",
    "schedule_task",
    "plan_run",
    "environment_plan_run",
    "stop_plan",
    "plan_resume",
    "rerun",
)
COLLECTIONS: Final = (
    "jobs",
    "scheduled_jobs",
    "plan_jobs",
    "tasks",
    "plans",
    "environments",
    "inventory",
    "node_groups",
)


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
