"""Inventory v2: shapes, names, and Bolt's merge rules."""

from __future__ import annotations

import pytest

from podium.inventory import InventoryError, parse_inventory

NESTED = """
config:
  transport: ssh
  ssh: {user: root, port: 22, host-key-check: false}
facts: {site: hq}
groups:
  - name: web
    config:
      ssh: {user: web, private-key: web.pem}
    facts: {role: web, os: {family: Debian}}
    vars: {tier: front}
    features: [puppet-agent]
    groups:
      - name: web-east
        config:
          ssh: {port: 2222}
        facts: {os: {release: "12"}}
        targets:
          - name: w1
            uri: ssh://admin@10.0.0.1:2200
            facts: {role: special}
          - w2
  - name: canary
    config:
      ssh: {user: canary}
    facts: {role: canary, canary: true}
    features: [shell]
    targets: [w2, lab1]
  - name: lab
    config:
      transport: sim
      sim: {latency-ms: 5}
    targets:
      - name: lab1
        alias: [l1, one]
"""


def test_a_target_in_nested_groups_takes_the_deeper_groups_settings() -> None:
    w2 = parse_inventory(NESTED).targets["w2"]
    assert w2.transport == "ssh"
    assert w2.config == {
        "user": "web",
        "port": 2222,
        "host-key-check": False,
        "private-key": "web.pem",
        "host": "w2",
    }


def test_facts_and_vars_merge_over_every_group_and_features_unite() -> None:
    w2 = parse_inventory(NESTED).targets["w2"]
    assert w2.facts == {
        "site": "hq",
        "role": "web",  # web-east/web came first in the file, so they win over canary
        "os": {"family": "Debian", "release": "12"},
        "canary": True,
    }
    assert w2.vars == {"tier": "front"}
    assert w2.features == frozenset({"puppet-agent", "shell"})
    assert w2.groups == ("web", "web-east", "canary")


def test_a_targets_own_settings_and_uri_win() -> None:
    w1 = parse_inventory(NESTED).targets["w1"]
    assert w1.facts["role"] == "special"
    assert (w1.config["host"], w1.config["port"], w1.config["user"]) == ("10.0.0.1", 2200, "admin")


def test_groups_win_over_the_top_level_and_the_first_group_in_file_order_wins() -> None:
    lab1 = parse_inventory(NESTED).targets["lab1"]
    assert lab1.transport == "sim"  # from lab; the top level's ssh comes last
    assert lab1.config == {"latency-ms": 5}
    assert lab1.facts == {"site": "hq", "role": "canary", "canary": True}
    assert lab1.aliases == ("l1", "one")


def test_groups_list_their_members_nested_groups_included() -> None:
    inventory = parse_inventory(NESTED)
    assert inventory.groups["web"] == ("w1", "w2")
    assert inventory.groups["canary"] == ("w2", "lab1")
    assert inventory.groups["all"] == ("w1", "w2", "lab1")


def test_a_node_the_inventory_lacks_gets_the_top_level_transport() -> None:
    unknown = parse_inventory(NESTED).target("ghost.example.com")
    assert unknown.transport == "ssh"
    assert unknown.config == {
        "user": "root",
        "port": 22,
        "host-key-check": False,
        "host": "ghost.example.com",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: 1", "version: only version 2"),
        (
            "targets: [{name: 'bad name'}]",
            "target 'bad name': the name 'bad name' contains whitespace",
        ),
        ("targets: ['a,b']", "contains whitespace or a comma"),
        ("groups: [{name: g, targets: [a]}, {name: g}]", "group 'g': group names must be unique"),
        ("groups: [{targets: [a]}]", "groups[0]: a group needs a `name`"),
        ("targets: [{alias: x}]", "a target needs a `name` or a `uri`"),
        ("config: {transport: winrm}", "unknown transport 'winrm'"),
        ("targets: [{name: a, config: {ssh: {password: {_plugin: prompt}}}}]", "plugins"),
        ("groups: [{name: g, colour: blue}]", "unknown keys: colour"),
        ("targets: 3", "`targets` must be a list"),
        ("[1, 2]", "must be a map"),
        ("a: [", "not valid YAML"),
    ],
)
def test_bad_inventories_are_refused_naming_file_and_entry(text: str, message: str) -> None:
    with pytest.raises(InventoryError, match=r"inventory\.yaml") as raised:
        parse_inventory(text, "inventory.yaml")
    assert message in str(raised.value)


def test_a_targets_environment_comes_from_its_facts_then_its_vars() -> None:
    inventory = parse_inventory("""
targets:
  - name: agent
    facts: {agent_specified_environment: dev, environment: production}
    vars: {environment: test}
  - name: fact
    facts: {environment: production}
    vars: {environment: test}
  - name: var
    vars: {environment: test}
  - name: unknown
    facts: {environment: 7}
""")
    environments = {name: t.environment for name, t in inventory.targets.items()}
    assert environments == {"agent": "dev", "fact": "production", "var": "test", "unknown": None}
