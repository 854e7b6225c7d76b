"""Loading the node-groups file and resolving a group to its members.

The file is a YAML list of groups as the classifier exports them: `id` (a UUID), `name`,
`parent` (a group id; All Nodes when absent), `environment` (default `production`), `rule` (or
`rules`: a classifier rule, or absent) and `description`. Other keys (classes, variables, ...)
are ignored, so an export from the classifier loads as it is. The All Nodes group is always
there. Unknown parents, parent cycles and bad rules are refused when the file loads.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from podium.inventory import Inventory
from podium.jsontypes import Json
from podium.queries import ALL_NODES_RULE, From, QueryProblem, RegexBudget, lower_rule, select
from podium.queries.model import And, Const, Expr
from podium.yamlfile import parse_yaml, read_yaml

ALL_NODES: Final = "00000000-0000-4000-8000-000000000000"
NO_MEMBERS: Final = Const(False)


class NodeGroupError(ValueError):
    """Raised for a node-groups file that cannot be used; the message names file and group."""


@dataclass(frozen=True, slots=True)
class NodeGroup:
    id: str
    name: str
    parent: str
    environment: str = "production"
    rule: Json = None  # as written; None when the group has no rule of its own
    description: str = ""
    rule_with_inherited: Json = None  # the rule and every ancestor's; None: no member possible
    members_rule: Expr = NO_MEMBERS

    def as_item(self) -> dict[str, Json]:
        return {
            "id": self.id,
            "name": self.name,
            "parent": self.parent,
            "environment": self.environment,
            "description": self.description,
            "rule": self.rule,
            "rule_with_inherited": self.rule_with_inherited,
        }


@dataclass(frozen=True, slots=True)
class NodeGroups:
    groups: Mapping[str, NodeGroup]  # All Nodes first, then file order

    @classmethod
    def default(cls) -> NodeGroups:
        return parse_node_groups("[]", "<built in>")

    def get(self, group_id: str) -> NodeGroup | None:
        try:
            return self.groups.get(str(uuid.UUID(group_id)))
        except ValueError:
            return None

    def members(
        self,
        group: NodeGroup,
        inventory: Inventory,
        loaded_at: float,
        budget: RegexBudget | None = None,
    ) -> list[str]:
        """The inventory's nodes that match the group's rule and its ancestors' rules. Raises
        QueryProblem when the rules' regular expressions run past the budget."""
        return select(From("inventory", group.members_rule), inventory, loaded_at, budget)


def load_node_groups(path: Path) -> NodeGroups:
    """Raises NodeGroupError naming the file and the group."""
    return _node_groups(read_yaml(path, NodeGroupError), str(path))


def parse_node_groups(text: str, source: str = "<node groups>") -> NodeGroups:
    """Raises NodeGroupError naming the source and the group."""
    return _node_groups(parse_yaml(text, source, NodeGroupError), source)


def _node_groups(data: Json, source: str) -> NodeGroups:
    data = [] if data is None else data
    if not isinstance(data, list):
        raise NodeGroupError(f"{source}: must be a list of groups")
    root = NodeGroup(ALL_NODES, "All Nodes", ALL_NODES, rule=ALL_NODES_RULE)
    raw: dict[str, NodeGroup] = {ALL_NODES: root}
    for index, entry in enumerate(data):
        group = _group(entry, source, index)
        if group.id in raw and group.id != ALL_NODES:
            raise NodeGroupError(f"{source}: group {group.name!r}: the id {group.id} is taken")
        raw[group.id] = group
    return NodeGroups({gid: _with_ancestors(raw, raw[gid], source) for gid in raw})


def _group(entry: Json, source: str, index: int) -> NodeGroup:
    if not isinstance(entry, dict):
        raise NodeGroupError(f"{source}: groups[{index}]: a group must be a map")
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise NodeGroupError(f"{source}: groups[{index}]: a group needs a `name`")
    where = f"{source}: group {name!r}"
    group_id = _uuid(entry.get("id"), "id", where)
    parent = _uuid(entry.get("parent", ALL_NODES), "parent", where)
    if "rule" in entry and "rules" in entry:
        raise NodeGroupError(f"{where}: give `rule` or `rules`, not both")
    rule = entry.get("rule", entry.get("rules"))
    if rule is None and group_id == ALL_NODES:
        rule = ALL_NODES_RULE
    if rule is not None:
        try:
            lower_rule(rule)
        except QueryProblem as exc:
            raise NodeGroupError(f"{where}: rule: {exc.msg}") from exc
    texts = {key: entry.get(key, default) for key, default in _TEXTS.items()}
    for key, value in texts.items():
        if not isinstance(value, str):
            raise NodeGroupError(f"{where}: `{key}` must be a string")
    return NodeGroup(
        group_id,
        name,
        ALL_NODES if group_id == ALL_NODES else parent,
        texts["environment"],
        rule,
        texts["description"],
    )


_TEXTS: Final = {"environment": "production", "description": ""}


def _uuid(value: Json, key: str, where: str) -> str:
    try:
        return str(uuid.UUID(value))
    except (TypeError, ValueError, AttributeError) as exc:
        raise NodeGroupError(f"{where}: `{key}` must be a UUID, not {value!r}") from exc


def _with_ancestors(groups: Mapping[str, NodeGroup], group: NodeGroup, source: str) -> NodeGroup:
    """The group with `rule_with_inherited` and its lowered form; refuses unknown parents and
    parent cycles. As in PE's classifier, the inherited rules are those of the ancestors that
    have one: a rule-less ancestor (such as "PE Infrastructure") constrains nothing."""
    rules: list[Json] = []
    seen: set[str] = set()
    current = group
    while True:
        rules.append(current.rule)
        seen.add(current.id)
        if current.id == ALL_NODES:
            break
        parent = groups.get(current.parent)
        if parent is None:
            raise NodeGroupError(
                f"{source}: group {current.name!r}: unknown parent {current.parent}"
            )
        if parent.id in seen:
            raise NodeGroupError(f"{source}: group {group.name!r}: its parents form a cycle")
        current = parent
    if group.rule is None:  # a group without a rule of its own has no members
        return group
    rules = [rule for rule in rules if rule is not None]  # a rule-less ancestor adds nothing
    expr = And(tuple(lower_rule(rule) for rule in rules))
    return replace(group, rule_with_inherited=["and", *rules], members_rule=expr)
