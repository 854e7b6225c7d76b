"""GET /inventory, GET /inventory/<node>, POST /inventory, POST /inventory/reload and
GET /node_groups: what Podium knows of its nodes and groups, and reloading it.

`local` and `sim` targets are always connected; an `ssh` target is as connected as the latest of
its runs that said whether it reached the host (`State.contacts`, kept by the fold).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Final

from aiohttp import web

from podium.api.bodies import InventoryQuery, parse_body
from podium.api.errors import InventoryInvalid
from podium.api.keys import INVENTORY, PROJECTOR, PUPPETDB, USER
from podium.api.permits import require
from podium.api.puppetdb import PuppetDb
from podium.api.sources import SourceError, Sources
from podium.events.render import iso
from podium.events.state import State
from podium.inventory import Inventory
from podium.jsontypes import Json
from podium.rbac.decide import holds
from podium.rbac.permissions import INVENTORY_RELOAD, NODES_VIEW_DATA

ALWAYS_CONNECTED: Final = frozenset({"local", "sim"})


async def list_inventory(request: web.Request) -> web.Response:
    """GET /inventory: every target of the inventory."""
    sources = request.app[INVENTORY].sources
    items = inventory_items(list(sources.inventory.targets), sources, request.app[PROJECTOR].state)
    return web.json_response({"items": items})


async def get_node(request: web.Request) -> web.Response:
    """GET /inventory/<node>; a node the inventory lacks is simply not connected. With its
    `facts` (a Podium addition) for a user who may view node data."""
    node = request.match_info["node"]
    sources = request.app[INVENTORY].sources
    state = request.app[PROJECTOR].state
    item = inventory_items([node], sources, state)[0]
    if holds(state, request[USER], NODES_VIEW_DATA):
        item["facts"] = await _facts(node, sources, request.app[PUPPETDB])
    return web.json_response(item)


async def _facts(node: str, sources: Sources, puppetdb: PuppetDb | None) -> dict[str, Json]:
    """PuppetDB's facts for the node when one is configured, else the inventory's."""
    if puppetdb is not None:
        return await puppetdb.facts(node) or {}
    target = sources.inventory.targets.get(node)
    return dict(target.facts) if target is not None else {}


async def query_inventory(request: web.Request) -> web.Response:
    """POST /inventory: one item per requested node, in request order."""
    query = parse_body(InventoryQuery, await request.read())
    sources = request.app[INVENTORY].sources
    items = inventory_items(query.nodes, sources, request.app[PROJECTOR].state)
    return web.json_response({"items": items})


async def reload_inventory(request: web.Request) -> web.Response:
    """POST /inventory/reload: read the inventory and node-groups files again (needs
    `inventory:reload:*`)."""
    require(request.app[PROJECTOR].state, request[USER], INVENTORY_RELOAD, "reload the inventory")
    holder = request.app[INVENTORY]
    try:
        sources = holder.reload()
    except SourceError as exc:
        raise InventoryInvalid(
            f"The inventory was not reloaded, the previous one stays in force: {exc}",
            error=str(exc),
        ) from exc
    return web.json_response(
        {
            "inventory": {
                "nodes": len(sources.inventory.targets),
                "loaded": iso(sources.loaded_at),
            },
            "node_groups": {"groups": len(sources.node_groups.groups)},
        }
    )


async def list_node_groups(request: web.Request) -> web.Response:
    """GET /node_groups: the classifier groups in force (a Podium addition)."""
    groups = request.app[INVENTORY].sources.node_groups.groups
    return web.json_response({"items": [group.as_item() for group in groups.values()]})


def inventory_items(nodes: Collection[str], sources: Sources, state: State) -> list[Json]:
    return [_item(node, sources.inventory, sources.loaded_at, state) for node in nodes]


def _item(node: str, inventory: Inventory, loaded_at: float, state: State) -> Json:
    target = inventory.targets.get(node)
    if target is None:
        return {"name": node, "connected": False}
    at: float | None = loaded_at
    connected = True
    if target.transport not in ALWAYS_CONNECTED:
        contact = state.contacts.get(node)
        connected, at = (False, None) if contact is None else (contact.reached, contact.at)
    item: dict[str, Json] = {"name": node, "connected": connected}
    if connected:
        item["broker"] = f"{target.transport}://{node}"
        item["timestamp"] = iso(at)
    return item
