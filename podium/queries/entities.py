"""The four PuppetDB entities Podium answers from its inventory: their fields and their rows.

Every row carries `certname`. `nodes` rows also carry the node's facts under `facts`, which only
`["fact", name]` can reach (it is not a field of the entity). Every environment field is the
node's environment as the inventory gives it (`InventoryTarget.environment`), as for deploys.
The inventory has no catalogs, so `resources` has no rows at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Final, Literal

from podium.inventory import Inventory
from podium.jsontypes import Json

Kind = Literal["value", "timestamp", "object"]
Row = Mapping[str, Json]


@dataclass(frozen=True, slots=True)
class Entity:
    name: str
    fields: Mapping[str, Kind]
    dotted: frozenset[str] = frozenset()  # object fields that take dotted paths
    pseudo: str | None = None  # `fact` on nodes, `parameter` on resources
    whole: frozenset[str] = frozenset()  # fields whose hash or array value never matches


def _fields(
    *names: str, timestamps: tuple[str, ...] = (), objects: tuple[str, ...] = ()
) -> dict[str, Kind]:
    kinds: dict[str, Kind] = dict.fromkeys(names, "value")
    kinds.update(dict.fromkeys(timestamps, "timestamp"))
    kinds.update(dict.fromkeys(objects, "object"))
    return kinds


ENTITIES: Final[Mapping[str, Entity]] = {
    "nodes": Entity(
        "nodes",
        _fields(
            "certname",
            "catalog_environment",
            "facts_environment",
            "report_environment",
            "latest_report_status",
            "latest_report_hash",
            "latest_report_noop",
            "latest_report_noop_pending",
            "latest_report_corrective_change",
            "latest_report_job_id",
            "cached_catalog_status",
            timestamps=(
                "deactivated",
                "expired",
                "catalog_timestamp",
                "facts_timestamp",
                "report_timestamp",
            ),
        ),
        pseudo="fact",
    ),
    "facts": Entity(
        "facts", _fields("certname", "name", "value", "environment"), whole=frozenset({"value"})
    ),
    "inventory": Entity(
        "inventory",
        _fields("certname", "environment", timestamps=("timestamp",), objects=("facts", "trusted")),
        dotted=frozenset({"facts", "trusted"}),
    ),
    "resources": Entity(
        "resources",
        _fields(
            "certname",
            "resource",
            "type",
            "title",
            "tag",
            "tags",
            "exported",
            "file",
            "line",
            "environment",
            objects=("parameters",),
        ),
        dotted=frozenset({"parameters"}),
        pseudo="parameter",
    ),
}
UNSUPPORTED: Final = frozenset(
    {
        "reports",
        "catalogs",
        "events",
        "edges",
        "environments",
        "factsets",
        "fact_paths",
        "fact_contents",
        "packages",
        "package_inventory",
        "producers",
    }
)


class Tables:
    """The rows of each entity for one inventory snapshot, built on first use."""

    def __init__(self, inventory: Inventory, loaded_at: float) -> None:
        self._targets = sorted(inventory.targets.values(), key=lambda t: t.name)
        self._loaded = datetime.fromtimestamp(loaded_at, UTC)

    def rows(self, entity: str) -> list[Row]:
        match entity:
            case "nodes":
                return self._nodes
            case "facts":
                return self._facts
            case "inventory":
                return self._inventory
            case _:
                return []

    @cached_property
    def _nodes(self) -> list[Row]:
        rows: list[Row] = []
        for target in self._targets:
            environment = target.environment
            row: dict[str, Json] = dict.fromkeys(ENTITIES["nodes"].fields)
            row.update(
                certname=target.name,
                facts_timestamp=self._loaded,
                catalog_environment=environment,
                facts_environment=environment,
                report_environment=environment,
                facts=target.facts,
            )
            rows.append(row)
        return rows

    @cached_property
    def _facts(self) -> list[Row]:
        return [
            {"certname": t.name, "name": name, "value": value, "environment": t.environment}
            for t in self._targets
            for name, value in sorted(t.facts.items())
        ]

    @cached_property
    def _inventory(self) -> list[Row]:
        return [
            {
                "certname": t.name,
                "timestamp": self._loaded,
                "environment": t.environment,
                "facts": t.facts,
                "trusted": trusted(t.name),
            }
            for t in self._targets
        ]


def trusted(certname: str) -> dict[str, Json]:
    """The trusted facts Podium can vouch for: the name, split at the first dot."""
    hostname, _, domain = certname.partition(".")
    return {"certname": certname, "hostname": hostname, "domain": domain, "extensions": {}}
