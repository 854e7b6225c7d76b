"""Classifier rules (string-form comparisons) and node groups (inheritance, refusals) over the
52-node fleet of tests/data/fleet."""

from __future__ import annotations

import time
from typing import Final

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podium.jsontypes import Json
from podium.node_groups import (
    ALL_NODES,
    NodeGroupError,
    NodeGroups,
    load_node_groups,
    parse_node_groups,
)
from podium.queries import (
    ALL_NODES_RULE,
    From,
    QueryProblem,
    RegexBudget,
    lower_rule,
    parse_query,
    select,
)
from tests.conftest import DATA
from tests.unit.test_queries import ALL, CACHE, DB, FLEET, LAB, NOW, SLOW_REGEX, WEB, WIN

GROUPS: Final[NodeGroups] = load_node_groups(DATA / "fleet" / "node_groups.yaml")


def ruled(rule: Json) -> list[str]:
    return select(From("inventory", lower_rule(rule)), FLEET, NOW)


RULES: Final[list[tuple[Json, list[str]]]] = [
    (ALL_NODES_RULE, ALL),
    (["and", ["=", ["fact", "os", "family"], "RedHat"], ["~", "name", "db-0[12]"]], DB[:2]),
    (["=", ["fact", "is_virtual"], "true"], [*WEB, "win-06.corp"]),  # boolean true and "true"
    (["=", ["fact", "is_virtual"], "false"], DB),
    ([">=", ["fact", "processors", "count"], "4"], WEB[:5] + DB + CACHE + ["win-05.corp"]),
    (["<", ["fact", "processors", "count"], "2"], ["lab-08"]),
    (["=", ["fact", "processors", "count"], "1.5"], ["lab-08"]),
    (["=", ["fact", "uptime_days"], "10"], WEB[:1]),
    ([">", ["fact", "uptime_days"], "70"], CACHE[6:]),
    (["not", ["=", ["fact", "role"], "web"]], DB + CACHE + WIN + LAB),  # missing facts too
    (["~", ["trusted", "domain"], "corp$"], WIN),
    (["=", ["trusted", "certname"], "lab-04"], ["lab-04"]),
    (["=", ["fact", "processors", "models", 1], "Xeon"], WEB),
    (["=", ["fact", "os"], "Debian"], []),  # a hash never matches at the leaf
    (["~", ["fact", "ipaddresses"], "10"], []),  # nor does an array
    (["=", ["fact", "ipaddresses", 0], "10.0.3.2"], CACHE[1:2]),
    (["=", ["fact", "x.y", "z"], "1"], ["lab-03"]),
    (["=", ["fact", "eyebrow pitch"], "high"], ["lab-02"]),
    (["or", ["=", "name", "lab-06"], ["=", "name", "lab-01"]], ["lab-01", "lab-06"]),
    (["and", ["~", "name", "^web"], ["not", ["~", ["fact", "datacenter"], "hq"]]], WEB[15:]),
    (["=", ["fact", "role"], "null"], []),  # a null fact has no string form
    ([">", ["fact", "role"], "1"], []),  # not a number: false, not an error
]


@pytest.mark.parametrize(("rule", "expected"), RULES, ids=[str(i) for i in range(len(RULES))])
def test_each_rule_selects_exactly_its_nodes(rule: Json, expected: list[str]) -> None:
    assert ruled(rule) == sorted(expected)


def test_a_rule_and_its_inventory_query_agree_except_for_string_forms() -> None:
    rule = ["and", ["=", ["fact", "os", "family"], "Debian"], ["~", "name", "^cache"]]
    query = [
        "from",
        "inventory",
        ["and", ["=", "facts.os.family", "Debian"], ["~", "certname", "^cache"]],
    ]
    assert ruled(rule) == select(parse_query(query), FLEET, NOW) == CACHE
    # "true" matches a boolean fact in a rule; a typed query keeps them apart
    assert ruled(["=", ["fact", "is_spaceship"], "true"]) == ["lab-08"]
    assert (
        select(parse_query(["from", "inventory", ["=", "facts.is_spaceship", "true"]]), FLEET, NOW)
        == []
    )


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("name", "A rule is an array"),
        ([], "A rule is an array"),
        (["!=", "name", "x"], "Unknown rule operator '!='"),
        (["null?", ["fact", "x"], True], "Unknown rule operator 'null?'"),
        (["and"], "needs at least one condition"),
        (["not", ["=", "name", "a"], ["=", "name", "b"]], '"not" takes exactly one'),
        (["=", "certname", "x"], "A rule's path"),
        (["=", ["facts", "x"], "x"], "A rule's path"),
        (["=", ["fact"], "x"], "A rule's path"),
        (["=", ["fact", 0], "x"], "A rule's path"),
        (["=", [["fact"], "x"], "x"], "A rule's path"),
        (["=", "name"], "takes a path and a value"),
        (["=", "name", None], "must be a string"),
        (["=", "name", {"a": 1}], "must be a string"),
        ([">", ["fact", "total_ram"], "lots"], "needs a numeric value"),
        (["~", "name", "(unclosed"], "Invalid regular expression"),
    ],
)
def test_bad_rules_are_refused_naming_the_problem(rule: Json, message: str) -> None:
    with pytest.raises(QueryProblem) as refused:
        lower_rule(rule)
    assert message in refused.value.msg


def test_a_rule_whose_regex_runs_past_the_budget_is_a_query_problem() -> None:
    rule = ["and", ["=", ["fact", "kernel"], "Linux"], ["~", "name", "^web"]]
    with pytest.raises(QueryProblem, match="took too long"):
        select(From("inventory", lower_rule(rule)), FLEET, NOW, RegexBudget(0))


def test_a_rule_with_a_backtracking_regex_is_matched_in_linear_time() -> None:
    rule = ["and", ["=", ["fact", "kernel"], "Linux"], ["~", "name", SLOW_REGEX]]
    started = time.process_time()
    assert select(From("inventory", lower_rule(rule)), FLEET, NOW) == []
    assert time.process_time() - started < 1.0  # a backtracking engine takes minutes


GROUP = "6f1c4f0e-1b1a-4c3e-9d7e-00000000000"


@pytest.mark.parametrize(
    ("group_id", "expected"),
    [
        (ALL_NODES, ALL),
        (f"{GROUP}1", WEB + DB + CACHE + LAB),
        (f"{GROUP}2", WEB),
        (f"{GROUP}3", WEB[15:]),  # its own rule, Web servers' and Linux's
        (f"{GROUP}4", DB),
        (f"{GROUP}5", []),  # no rule of its own: no members
        (f"{GROUP}6", WEB),  # a rule-less ancestor does not constrain it; the others do
        (f"{GROUP}7", DB),
        (f"{GROUP}8", ["lab-02", "lab-03"]),  # a pinned node must still match the parent
        (f"{GROUP}9", []),
        (f"{GROUP}a", [*WEB, "win-06.corp"]),
        (f"{GROUP}A", [*WEB, "win-06.corp"]),  # ids are UUIDs, whatever their case
    ],
)
def test_a_group_holds_the_nodes_matching_its_rule_and_every_ancestors(
    group_id: str, expected: list[str]
) -> None:
    group = GROUPS.get(group_id)
    assert group is not None
    assert GROUPS.members(group, FLEET, NOW) == sorted(expected)


def test_groups_show_their_rule_with_the_inherited_ones() -> None:
    group = GROUPS.get(f"{GROUP}3")
    assert group is not None
    assert group.as_item() == {
        "id": f"{GROUP}3",
        "name": "Web in dc2",
        "parent": f"{GROUP}2",
        "environment": "production",
        "description": "inherits the rules of Web servers and Linux",
        "rule": ["=", ["fact", "datacenter"], "dc2"],
        "rule_with_inherited": [
            "and",
            ["=", ["fact", "datacenter"], "dc2"],
            ["=", ["fact", "role"], "web"],
            ["and", ["=", ["fact", "kernel"], "Linux"]],
            ALL_NODES_RULE,
        ],
    }
    assert next(iter(GROUPS.groups)) == ALL_NODES
    assert GROUPS.get("not-a-uuid") is None
    assert GROUPS.get("6f1c4f0e-1b1a-4c3e-9d7e-0000000000ff") is None


def test_an_ancestor_without_rules_adds_nothing_to_the_inherited_rule() -> None:
    below = GROUPS.get(f"{GROUP}6")
    assert below is not None
    assert below.rule_with_inherited == [
        "and",
        ["~", "name", ".*"],
        ["=", ["fact", "role"], "web"],  # Web servers; its child "No rule of its own" is skipped
        ["and", ["=", ["fact", "kernel"], "Linux"]],
        ALL_NODES_RULE,
    ]
    rule_less = GROUPS.get(f"{GROUP}5")
    assert rule_less is not None
    assert rule_less.rule_with_inherited is None  # no rule of its own: no members


def test_without_a_file_there_is_the_all_nodes_group() -> None:
    groups = NodeGroups.default()
    assert list(groups.groups) == [ALL_NODES]
    all_nodes = groups.groups[ALL_NODES]
    assert (all_nodes.name, all_nodes.parent, all_nodes.rule) == (
        "All Nodes",
        ALL_NODES,
        ALL_NODES_RULE,
    )


U1, U2 = (f"0b7c1c9e-5a0e-4f7b-8f57-00000000000{i}" for i in (1, 2))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("groups: []", "must be a list of groups"),
        ("- [1]", "groups[0]: a group must be a map"),
        (f"- id: {U1}", "groups[0]: a group needs a `name`"),
        ("- {name: a, id: 12}", "group 'a': `id` must be a UUID, not 12"),
        (f"- {{name: a, id: {U1}, parent: nope}}", "group 'a': `parent` must be a UUID"),
        (f"- {{name: a, id: {U1}, parent: {U2}}}", f"group 'a': unknown parent {U2}"),
        (
            f"- {{name: a, id: {U1}, parent: {U2}, rule: ['=', name, x]}}\n"
            f"- {{name: b, id: {U2}, parent: {U1}, rule: ['=', name, y]}}",
            "its parents form a cycle",
        ),
        (f"- {{name: a, id: {U1}}}\n- {{name: b, id: {U1}}}", f"the id {U1} is taken"),
        (f"- {{name: a, id: {U1}, rule: ['!=', name, x]}}", "group 'a': rule: Unknown rule"),
        (f"- {{name: a, id: {U1}, rule: [], rules: []}}", "`rule` or `rules`, not both"),
        (f"- {{name: a, id: {U1}, environment: 3}}", "`environment` must be a string"),
        ("- {name: [unclosed", "not valid YAML"),
    ],
)
def test_a_bad_node_groups_file_is_refused_naming_the_file_and_group(
    text: str, message: str
) -> None:
    with pytest.raises(NodeGroupError) as refused:
        parse_node_groups(text, "groups.yaml")
    assert str(refused.value).startswith("groups.yaml: ")
    assert message in str(refused.value)


rule_json = st.recursive(
    st.sampled_from(["and", "or", "not", "=", "~", "<", ">=", "name", "fact", "trusted", "os"])
    | st.integers(-3, 3)
    | st.text(max_size=4)
    | st.none()
    | st.booleans(),
    lambda inner: st.lists(inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(rule=rule_json)
def test_any_json_is_a_rule_or_a_query_problem(rule: Json) -> None:
    try:
        lowered = lower_rule(rule)
    except QueryProblem as problem:
        message = problem.msg
    else:
        assert set(select(From("inventory", lowered), FLEET, NOW)) <= set(ALL)
        return
    assert message.strip()
