"""The order of an application deploy: which nodes wait for which, refused when circular.

A Puppet run applies everything placed on a node at once, so the order is between nodes. Nodes
hosting the same set of components form one job component; it requires the job components that
host what its own components require. A cycle is refused at both levels: between components
(the application code itself) and between nodes (two nodes each hosting something the other
needs first), and the error names it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from podium.applications.model import Instance
from podium.events.model import Component


class DependencyCycle(ValueError):
    """Raised when components, or the nodes hosting them, depend on each other in a cycle."""

    def __init__(self, message: str, cycle: list[str]) -> None:
        super().__init__(message)
        self.cycle = cycle


@dataclass(frozen=True, slots=True)
class Deployment:
    nodes: list[str]  # in dependency order
    components: list[Component]  # in dependency order; nodes disjoint


def plan(instances: Sequence[Instance]) -> Deployment:
    """Raises DependencyCycle."""
    placed = {component.ref: component for i in instances for component in i.components}
    needs = {ref: [r for r in c.requires if r in placed] for ref, c in placed.items()}
    cycle = find_cycle(needs)
    if cycle:
        raise DependencyCycle(f"Dependency cycle between components: {' -> '.join(cycle)}", cycle)
    hosted: dict[str, list[str]] = {}
    for ref, component in placed.items():
        for node in component.nodes:
            hosted.setdefault(node, []).append(ref)
    members: dict[str, list[str]] = {}  # job component -> its nodes
    refs_of: dict[str, list[str]] = {}  # job component -> the components it holds
    hosts: dict[str, set[str]] = {}  # component -> the job components holding it
    for node, refs in hosted.items():
        name = " + ".join(refs)
        members.setdefault(name, []).append(node)
        refs_of[name] = refs
        for ref in refs:
            hosts.setdefault(ref, set()).add(name)
    requires = {
        name: sorted({g for ref in refs for r in needs[ref] for g in hosts[r]} - {name})
        for name, refs in refs_of.items()
    }
    cycle = find_cycle(requires)
    if cycle:
        steps = " -> ".join(f"{name} (on {members[name][0]})" for name in cycle)
        raise DependencyCycle(f"Dependency cycle between nodes: {steps}", cycle)
    order = topological(requires)
    return Deployment(
        [node for name in order for node in members[name]],
        [Component(name, members[name], requires[name]) for name in order],
    )


def find_cycle(graph: Mapping[str, Sequence[str]]) -> list[str] | None:
    """One cycle as a path that ends where it starts (`[a, b, a]`), or None."""
    done: set[str] = set()
    for start in graph:
        if start in done:
            continue
        path = [start]
        stack = [iter(graph[start])]
        while stack:
            following = next(stack[-1], None)
            if following is None:
                done.add(path.pop())
                stack.pop()
            elif following in path:
                return [*path[path.index(following) :], following]
            elif following not in done:
                path.append(following)
                stack.append(iter(graph.get(following, ())))
    return None


def topological(graph: Mapping[str, Sequence[str]]) -> list[str]:
    """Every key after what it requires; otherwise in the graph's own order. Acyclic input."""
    waiting = {name: len(requires) for name, requires in graph.items()}
    dependants: dict[str, list[str]] = {}
    for name, requires in graph.items():
        for required in requires:
            dependants.setdefault(required, []).append(name)
    ready = deque(name for name, count in waiting.items() if count == 0)
    order = []
    while ready:
        name = ready.popleft()
        order.append(name)
        for dependant in dependants.get(name, ()):
            waiting[dependant] -= 1
            if waiting[dependant] == 0:
                ready.append(dependant)
    return order
