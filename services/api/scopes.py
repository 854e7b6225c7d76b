"""Scope resolution: from a command's scope to the nodes it runs on, with their transports.

In this version only the `nodes` scope is resolved (against the inventory: a node it lacks runs
on the inventory's top-level transport). `query`, `node_group` and `application` answer a
`query-error` until their resolvers land.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from libs.events.model import Target
from libs.inventory import Inventory
from services.api.bodies import Scope
from services.api.errors import EmptyTarget, QueryError

_encode = msgspec.json.Encoder(order="sorted").encode


def resolve_scope(scope: Scope, inventory: Inventory) -> list[str]:
    """The scope's nodes in request order, without repeats. Raises EmptyTarget, QueryError."""
    key = scope.which()
    if key != "nodes" or scope.nodes is None:
        raise QueryError(f"The {key} scope is not supported yet", scope=key)
    nodes = list(dict.fromkeys(scope.nodes))
    if not nodes:
        raise EmptyTarget("The scope resolves to no nodes", scope=scope.as_options())
    return nodes


def whole_inventory(inventory: Inventory) -> list[str]:
    return list(inventory.targets)


def targets_for(nodes: Sequence[str], inventory: Inventory) -> list[Target]:
    """Group nodes that share transport, settings and features, so each is stated once."""
    groups: dict[bytes, tuple[str, dict[str, object], list[str], list[str]]] = {}
    for node in nodes:
        target = inventory.target(node)
        features = sorted(target.features)
        key = _encode((target.transport, target.config, features))
        group = groups.get(key)
        if group is None:
            groups[key] = (target.transport, dict(target.config), [node], features)
        else:
            group[2].append(node)
    return [
        Target(t, config, members, features) for t, config, members, features in groups.values()
    ]
