"""Classifier node groups: a YAML file of groups with rules, and the nodes each group holds.

Owns loading and checking the file (ids, parents, rules, cycles) and membership: a node belongs
to a group when it matches that group's rule and every ancestor's. Must not touch HTTP or the
inventory file: members are computed over the inventory it is given.
"""

from podium.node_groups.groups import (
    ALL_NODES,
    NodeGroup,
    NodeGroupError,
    NodeGroups,
    load_node_groups,
    parse_node_groups,
)

__all__ = [
    "ALL_NODES",
    "NodeGroup",
    "NodeGroupError",
    "NodeGroups",
    "load_node_groups",
    "parse_node_groups",
]
