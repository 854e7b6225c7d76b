"""Parse an inventory v2 file and apply Bolt's merge rules.

A target may sit in several groups. For each place it appears, the groups on the way down are
merged, the deeper group winning; among those places the first in file order wins; the target's
own settings win over all of it, and the top level comes last. `config`, `facts` and `vars` merge
key by key (nested maps too), and `features` is the union.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from podium.inventory.model import DEFAULT_TRANSPORT, TRANSPORTS, Inventory, InventoryTarget
from podium.jsontypes import Json
from podium.yamlfile import parse_yaml, read_yaml

_GROUP_KEYS: Final = frozenset(
    {"name", "targets", "groups", "config", "facts", "vars", "features", "plugin_hooks"}
)
_TARGET_KEYS: Final = frozenset(
    {"name", "uri", "alias", "config", "facts", "vars", "features", "plugin_hooks"}
)
_TOP_KEYS: Final = (_GROUP_KEYS - {"name"}) | {"version"}
_BAD_NAME: Final = re.compile(r"[\s,]")


class InventoryError(ValueError):
    """Raised for an inventory file that cannot be used; the message names file and entry."""


@dataclass(slots=True)
class _Layer:
    """What a chain of groups gives a target (deeper groups already merged over shallower)."""

    config: dict[str, Json] = field(default_factory=dict)
    facts: dict[str, Json] = field(default_factory=dict)
    vars: dict[str, Json] = field(default_factory=dict)
    features: frozenset[str] = frozenset()
    groups: tuple[str, ...] = ()


@dataclass(slots=True)
class _Found:
    own: _Layer = field(default_factory=_Layer)
    uri: str | None = None
    aliases: list[str] = field(default_factory=list)
    layers: list[_Layer] = field(default_factory=list)


def load_inventory(path: Path) -> Inventory:
    """Raises InventoryError naming the file and the entry."""
    return _Parser(str(path)).parse(read_yaml(path, InventoryError))


def parse_inventory(text: str, source: str = "<inventory>") -> Inventory:
    """Raises InventoryError naming the source and the entry."""
    return _Parser(source).parse(parse_yaml(text, source, InventoryError))


def merged(high: Mapping[str, Json], low: Mapping[str, Json]) -> dict[str, Json]:
    """`high` over `low`, key by key; maps found on both sides merge the same way."""
    out = dict(low)
    for key, value in high.items():
        below = out.get(key)
        if isinstance(value, Mapping) and isinstance(below, Mapping):
            out[key] = merged(value, below)
        else:
            out[key] = value
    return out


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.found: dict[str, _Found] = {}
        self.group_names: set[str] = set()
        self.members: dict[str, list[str]] = {}
        self.top = _Layer()

    def fail(self, where: str, problem: str) -> InventoryError:
        return InventoryError(f"{self.source}: {where}: {problem}")

    def parse(self, data: Json) -> Inventory:
        data = {} if data is None else data
        if not isinstance(data, dict):
            raise self.fail("top level", "must be a map")
        version = data.get("version", 2)
        if version != 2:
            raise self.fail("version", f"only version 2 is supported, not {version!r}")
        self._check_keys(data, _TOP_KEYS, "top level")
        top = self._layer(data, _Layer(), "top level", ())
        self._walk(data, _Layer(), "top level", [])
        self.top = top
        default_transport = str(top.config.get("transport", DEFAULT_TRANSPORT))
        self._check_transport(default_transport, "top level")
        targets = {name: self._resolve(name, found) for name, found in self.found.items()}
        groups = {name: tuple(dict.fromkeys(members)) for name, members in self.members.items()}
        groups["all"] = tuple(targets)
        return Inventory(targets, groups, default_transport, top.config)

    def _walk(self, data: Mapping[str, Json], layer: _Layer, where: str, chain: list[str]) -> None:
        for index, entry in enumerate(self._list(data, "targets", where)):
            self._target(entry, layer, f"{where}, targets[{index}]", chain)
        for index, group in enumerate(self._list(data, "groups", where)):
            self._group(group, layer, f"{where}, groups[{index}]", chain)

    def _group(self, group: Json, parent: _Layer, where: str, chain: list[str]) -> None:
        if not isinstance(group, dict):
            raise self.fail(where, "a group must be a map")
        name = group.get("name")
        if not isinstance(name, str) or not name:
            raise self.fail(where, "a group needs a `name`")
        where = f"group {name!r}"
        self._check_name(name, where)
        if name in self.group_names or name == "all":
            raise self.fail(where, "group names must be unique")
        self.group_names.add(name)
        self.members[name] = []
        self._check_keys(group, _GROUP_KEYS, where)
        layer = self._layer(group, parent, where, (*parent.groups, name))
        self._walk(group, layer, where, [*chain, name])

    def _target(self, entry: Json, layer: _Layer, where: str, chain: list[str]) -> None:
        if isinstance(entry, str):
            entry = {"uri": entry}
        if not isinstance(entry, dict):
            raise self.fail(where, "a target must be a name, a URI or a map")
        self._check_keys(entry, _TARGET_KEYS, where)
        name, uri = entry.get("name"), entry.get("uri")
        if name is None and uri is None:
            raise self.fail(where, "a target needs a `name` or a `uri`")
        for key, value in (("name", name), ("uri", uri)):
            if value is not None and (not isinstance(value, str) or not value):
                raise self.fail(where, f"`{key}` must be a non-empty string")
        name = str(name or uri)
        where = f"target {name!r}"
        self._check_name(name, where)
        found = self.found.setdefault(name, _Found())
        own = self._layer(entry, _Layer(), where, ())
        found.own = _Layer(
            merged(found.own.config, own.config),
            merged(found.own.facts, own.facts),
            merged(found.own.vars, own.vars),
            found.own.features | own.features,
        )
        found.uri = found.uri or uri
        found.aliases.extend(self._aliases(entry.get("alias"), where))
        found.layers.append(layer)
        for group in chain:
            self.members[group].append(name)

    def _layer(
        self, data: Mapping[str, Json], parent: _Layer, where: str, groups: tuple[str, ...]
    ) -> _Layer:
        own = [data.get(key) for key in ("config", "facts", "vars", "features")]
        if "plugin_hooks" in data or _has_plugin(own):
            raise self.fail(
                where, "inventory plugins (`_plugin`, `plugin_hooks`) are not supported"
            )
        config, facts, vars_ = (self._map(data, key, where) for key in ("config", "facts", "vars"))
        features = self._list(data, "features", where)
        if not all(isinstance(feature, str) for feature in features):
            raise self.fail(where, "`features` must be a list of strings")
        return _Layer(
            merged(config, parent.config),
            merged(facts, parent.facts),
            merged(vars_, parent.vars),
            parent.features | frozenset(features),
            groups,
        )

    def _resolve(self, name: str, found: _Found) -> InventoryTarget:
        config, facts, vars_ = dict(found.own.config), dict(found.own.facts), dict(found.own.vars)
        features = set(found.own.features)
        for layer in [*found.layers, self.top]:  # the first place it appears wins conflicts
            config = merged(config, layer.config)
            facts = merged(facts, layer.facts)
            vars_ = merged(vars_, layer.vars)
            features |= layer.features
        uri_transport, from_uri = _split_uri(found.uri)
        transport = str(uri_transport or config.get("transport") or DEFAULT_TRANSPORT)
        self._check_transport(transport, f"target {name!r}")
        block = config.get(transport) or {}
        if not isinstance(block, Mapping):
            raise self.fail(f"target {name!r}", f"`config.{transport}` must be a map")
        settings = dict(block)
        if transport == "ssh":  # the URI's host, port and user win over config
            settings = merged(from_uri, block)
            settings.setdefault("host", name)
        groups = tuple(group for layer in found.layers for group in layer.groups)
        return InventoryTarget(
            name=name,
            transport=transport,
            config=settings,
            uri=found.uri,
            aliases=tuple(dict.fromkeys(found.aliases)),
            facts=facts,
            vars=vars_,
            features=frozenset(features),
            groups=tuple(dict.fromkeys(groups)),
        )

    def _aliases(self, alias: Json, where: str) -> list[str]:
        aliases = [alias] if isinstance(alias, str) else alias or []
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise self.fail(where, "`alias` must be a string or a list of strings")
        for alias_name in aliases:
            self._check_name(alias_name, where)
        return aliases

    def _check_name(self, name: str, where: str) -> None:
        if _BAD_NAME.search(name):
            raise self.fail(where, f"the name {name!r} contains whitespace or a comma")

    def _check_keys(self, data: Mapping[str, Json], allowed: frozenset[str], where: str) -> None:
        unknown = sorted(str(key) for key in data if key not in allowed)
        if unknown:
            raise self.fail(where, f"unknown keys: {', '.join(unknown)}")

    def _check_transport(self, transport: str, where: str) -> None:
        if transport not in TRANSPORTS:
            known = ", ".join(sorted(TRANSPORTS))
            raise self.fail(where, f"unknown transport {transport!r} (known: {known})")

    def _map(self, data: Mapping[str, Json], key: str, where: str) -> dict[str, Json]:
        value = data.get(key) or {}
        if not isinstance(value, dict):
            raise self.fail(where, f"`{key}` must be a map")
        return value

    def _list(self, data: Mapping[str, Json], key: str, where: str) -> list[Json]:
        value = data.get(key) or []
        if not isinstance(value, list):
            raise self.fail(where, f"`{key}` must be a list")
        return value


def _has_plugin(value: Json) -> bool:
    if isinstance(value, dict):
        return "_plugin" in value or any(_has_plugin(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_plugin(v) for v in value)
    return False


def _split_uri(uri: str | None) -> tuple[str | None, dict[str, Json]]:
    """The transport a URI names (if any) and the host, port and user it gives."""
    if uri is None:
        return None, {}
    parts = urlsplit(uri if "://" in uri else f"//{uri}")
    settings: dict[str, Json] = {}
    if parts.hostname:
        settings["host"] = parts.hostname
    try:
        if parts.port is not None:
            settings["port"] = parts.port
    except ValueError:
        pass
    if parts.username:
        settings["user"] = parts.username
    if parts.password:
        settings["password"] = parts.password
    return (parts.scheme or None), settings
