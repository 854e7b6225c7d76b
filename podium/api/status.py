"""The API root and the OpenAPI document. (The health endpoints are `podium.health`'s.)"""

from __future__ import annotations

from typing import Final

from aiohttp import web

from podium.api.bodies import openapi_schemas
from podium.api.keys import base_url
from podium.api.plan_bodies import (
    EnvironmentPlanRunCommand,
    PlanFinishCommand,
    PlanResumeCommand,
    PlanRunCommand,
    PlanStartCommand,
    StopPlanCommand,
)
from podium.health import VERSION
from podium.jsontypes import Json

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
PLAN_BODIES: Final = (
    PlanRunCommand,
    EnvironmentPlanRunCommand,
    StopPlanCommand,
    PlanResumeCommand,
    PlanStartCommand,
    PlanFinishCommand,
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
                "schemas": openapi_schemas(*PLAN_BODIES),
                "securitySchemes": {
                    "token": {"type": "apiKey", "in": "header", "name": "X-Authentication"}
                },
            },
            "security": [{"token": []}],
            "paths": {
                "/command/deploy": command("DeployCommand", "202"),
                "/command/task": command("TaskCommand", "202"),
                "/command/stop": command("StopCommand", "202"),
                "/command/schedule_task": command("ScheduleTaskCommand", "202"),
                "/scheduled_jobs/environment_jobs": command("EnvironmentJobCommand", "200"),
                "/command/plan_run": command("PlanRunCommand", "202"),
                "/command/environment_plan_run": command("EnvironmentPlanRunCommand", "202"),
                "/command/stop_plan": command("StopPlanCommand", "202"),
                "/command/plan_resume": command("PlanResumeCommand", "202"),
                "/command/plan_start": command("PlanStartCommand", "202"),
                "/command/plan_finish": command("PlanFinishCommand", "202"),
                "/inventory": command("InventoryQuery", "200"),
            },
        }
    )
