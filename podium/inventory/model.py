"""Resolved inventory targets: what a scope or a transport needs to know about a node."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from podium.jsontypes import Json

DEFAULT_TRANSPORT: Final = "ssh"  # as in Bolt
TRANSPORTS: Final = frozenset({"ssh", "local", "sim"})


@dataclass(frozen=True, slots=True)
class InventoryTarget:
    name: str
    transport: str
    config: Mapping[str, Json]  # the chosen transport's settings
    uri: str | None = None
    aliases: tuple[str, ...] = ()
    facts: Mapping[str, Json] = field(default_factory=dict)
    vars: Mapping[str, Json] = field(default_factory=dict)
    features: frozenset[str] = frozenset()
    groups: tuple[str, ...] = ()

    @property
    def environment(self) -> str | None:
        """The Puppet environment the node runs in, when the inventory says: its fact
        `agent_specified_environment` or `environment`, else its var `environment`."""
        for value in (
            self.facts.get("agent_specified_environment"),
            self.facts.get("environment"),
            self.vars.get("environment"),
        ):
            if isinstance(value, str) and value:
                return value
        return None


@dataclass(frozen=True, slots=True)
class Inventory:
    targets: Mapping[str, InventoryTarget]
    groups: Mapping[str, tuple[str, ...]]  # group name -> its targets, nested groups included
    default_transport: str = DEFAULT_TRANSPORT
    default_config: Mapping[str, Json] = field(default_factory=dict)  # top-level `config`

    def target(self, name: str) -> InventoryTarget:
        """The node's target; a node the inventory lacks gets the top-level transport."""
        found = self.targets.get(name)
        if found is not None:
            return found
        config = dict(self.default_config.get(self.default_transport) or {})
        if self.default_transport == "ssh":
            config.setdefault("host", name)
        return InventoryTarget(name, self.default_transport, config)
