"""GET /environments and GET /environments/<name>: the environments Podium can run code from
(the reference leaves their shape to Podium: `{"items": [{"name", "id"}]}`)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from podium.api.commands import find_environment
from podium.api.keys import ENVIRONMENTS, base_url
from podium.jsontypes import Json


def environment_item(base: str, name: str) -> dict[str, Json]:
    return {"name": name, "id": f"{base}/environments/{name}"}


async def list_environments(request: web.Request) -> web.Response:
    """GET /environments"""
    names = await asyncio.to_thread(request.app[ENVIRONMENTS].names)
    base = base_url(request)
    return web.json_response({"items": [environment_item(base, name) for name in names]})


async def get_environment(request: web.Request) -> web.Response:
    """GET /environments/<name>: 404 unknown-environment, 400 for a malformed name."""
    environment = find_environment(request.app[ENVIRONMENTS], request.match_info["name"])
    return web.json_response(environment_item(base_url(request), environment.name))
