"""Applications: the file, selecting instances, and the deploy order (with cycles refused)."""

from __future__ import annotations

from itertools import pairwise
from typing import Final

import pytest
from hypothesis import given
from hypothesis import strategies as st

from podium.applications import (
    ApplicationsError,
    BadReference,
    DependencyCycle,
    Instance,
    find_cycle,
    parse_applications,
    parse_reference,
    plan,
    topological,
)
from podium.events.model import Component

LAMP: Final = """
Lamp[shop]:
  components:
    Lamp::Db[shop]: {nodes: db-1}
    Lamp::App[shop]: {nodes: [app-1, app-2], requires: "lamp::db['shop']"}
    Lamp::Web[shop]: {nodes: [web-1], requires: ['Lamp::App[shop]']}
Lamp[blog]:
  components:
    Lamp::Db[blog]: {nodes: [db-2]}
    Lamp::Web[blog]: {nodes: [web-2], requires: ['Lamp::Db[blog]']}
Monitor["all"]:
  components:
    Monitor::Probe[all]: {nodes: [mon-1], requires: ['Lamp::Web[shop]']}
"""


def refs(instances: list[Instance]) -> list[str]:
    return [i.ref for i in instances]


def test_an_application_type_selects_all_its_instances_and_a_title_one() -> None:
    apps = parse_applications(LAMP)
    assert refs(apps.select("Lamp")) == ["Lamp[shop]", "Lamp[blog]"]
    assert refs(apps.select("lamp['blog']")) == ["Lamp[blog]"]
    assert refs(apps.select("Monitor[all]")) == ["Monitor[all]"]
    assert apps.select("Lamp[nope]") == []
    assert apps.select("Wordpress_app") == []


@pytest.mark.parametrize("name", ["", "lamp blog", "Lamp[", "9lamp", "Lamp::[x]", "[x]"])
def test_a_name_that_is_not_type_or_type_with_title_is_a_bad_reference(name: str) -> None:
    with pytest.raises(BadReference):
        parse_reference(name)


def test_components_run_after_what_they_require() -> None:
    deployment = plan(parse_applications(LAMP).select("Lamp[shop]"))
    assert deployment.nodes == ["db-1", "app-1", "app-2", "web-1"]
    assert deployment.components == [
        Component("Lamp::Db[shop]", ["db-1"], []),
        Component("Lamp::App[shop]", ["app-1", "app-2"], ["Lamp::Db[shop]"]),
        Component("Lamp::Web[shop]", ["web-1"], ["Lamp::App[shop]"]),
    ]


def test_requirements_outside_the_deployed_instances_hold_nothing_back() -> None:
    deployment = plan(parse_applications(LAMP).select("Monitor"))
    assert deployment.components == [Component("Monitor::Probe[all]", ["mon-1"], [])]


def test_instances_deployed_together_keep_their_own_order() -> None:
    deployment = plan(list(parse_applications(LAMP).instances.values()))
    position = {c.name: i for i, c in enumerate(deployment.components)}
    for component in deployment.components:
        assert all(position[r] < position[component.name] for r in component.requires)
    assert {n for c in deployment.components for n in c.nodes} == set(deployment.nodes)
    assert len(deployment.nodes) == 7


def test_nodes_hosting_the_same_components_run_as_one_component() -> None:
    apps = parse_applications("""
A[x]:
  components:
    A::Db[x]: {nodes: [n1, n2]}
    A::Web[x]: {nodes: [n1, n3], requires: ['A::Db[x]']}
""")
    deployment = plan(apps.select("A"))
    assert deployment.components == [
        Component("A::Db[x]", ["n2"], []),
        Component("A::Db[x] + A::Web[x]", ["n1"], ["A::Db[x]"]),  # its own Db applies with it
        Component("A::Web[x]", ["n3"], ["A::Db[x]", "A::Db[x] + A::Web[x]"]),
    ]


def test_a_cycle_between_components_is_refused_naming_it() -> None:
    apps = parse_applications("""
A[x]:
  components:
    A::One[x]: {nodes: [n1], requires: ['A::Three[x]']}
    A::Two[x]: {nodes: [n2], requires: ['A::One[x]']}
    A::Three[x]: {nodes: [n3], requires: ['A::Two[x]']}
""")
    with pytest.raises(DependencyCycle) as refused:
        plan(apps.select("A[x]"))
    assert str(refused.value) == (
        "Dependency cycle between components: A::One[x] -> A::Three[x] -> A::Two[x] -> A::One[x]"
    )


def test_a_cycle_between_nodes_is_refused_even_when_components_are_acyclic() -> None:
    apps = parse_applications("""
A[x]:
  components:
    A::First[x]: {nodes: [n1]}
    A::Second[x]: {nodes: [n2], requires: ['A::First[x]']}
    A::Third[x]: {nodes: [n1], requires: ['A::Second[x]']}
""")
    with pytest.raises(DependencyCycle) as refused:
        plan(apps.select("A"))
    assert "between nodes" in str(refused.value)
    assert "(on n1)" in str(refused.value)
    assert "(on n2)" in str(refused.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", "must map instances"),
        ("A[x]: {}", "A[x]: needs `components`"),
        ("A: {components: {}}", "'A' needs a title"),
        ("'A b[x]': {components: {}}", "is not an application name"),
        ('A[x]: {components: {"B[x]": [n1]}}', "B[x]: must be a map"),
        ('A[x]: {components: {"B[x]": {nodes: [a b]}}}', "contains whitespace or a comma"),
        ('A[x]: {components: {"B[x]": {nodes: [1]}}}', "`nodes` must be a name or a list"),
        ('A[x]: {components: {"B[x]": {requires: ["C[y]"]}}}', "requires unknown components: C[y]"),
        ('A[x]: {components: {"B[x]": {requires: [C]}}}', "'C' needs a title"),
        ("A[x]: [unclosed", "not valid YAML"),
    ],
)
def test_a_bad_applications_file_is_refused_naming_the_entry(text: str, message: str) -> None:
    with pytest.raises(ApplicationsError) as refused:
        parse_applications(text, "apps.yaml")
    assert str(refused.value).startswith("apps.yaml")
    assert message in str(refused.value)


graphs = st.dictionaries(
    st.sampled_from("abcdefg"), st.lists(st.sampled_from("abcdefg"), max_size=3), max_size=7
).map(lambda g: {k: [v for v in vs if v in g] for k, vs in g.items()})


@given(graph=graphs)
def test_a_graph_has_a_cycle_or_a_topological_order(graph: dict[str, list[str]]) -> None:
    cycle = find_cycle(graph)
    if cycle is None:
        order = topological(graph)
        assert sorted(order) == sorted(graph)
        for name in graph:
            assert all(order.index(r) < order.index(name) for r in graph[name])
    else:
        assert cycle[0] == cycle[-1]
        for here, there in pairwise(cycle):
            assert there in graph[here]
        assert len(topological(graph)) < len(graph)  # a cycle never drains
