"""Scope resolution: from a command's scope to the nodes it runs on, in the order they may run.

`nodes` are taken as given; `query` is evaluated against the inventory (or sent to PuppetDB when
one is configured); `node_group` is the group's rules, inherited ones included, against the
inventory (or translated to a PuppetDB query and evaluated there, when one is configured);
`application` is the environment's instances, with their dependency order as job components.
Everything resolves from one snapshot of the sources, taken once per command, so a reload in the
middle cannot mix two inventories. Only the PuppetDB call does I/O; local queries
and node groups are worked out by `LocalQueries`, off the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Final, TypeVar

from aiohttp import web

from podium.api.bodies import Scope
from podium.api.errors import (
    DependencyCycle,
    EmptyEnvironment,
    EmptyTarget,
    QueryError,
    ValidationError,
)
from podium.api.puppetdb import PuppetDb
from podium.api.sources import Sources
from podium.applications import Applications, BadReference, plan
from podium.applications import DependencyCycle as CycleFound
from podium.events.model import Component
from podium.events.state import TaskTarget
from podium.inventory import Inventory
from podium.jsontypes import Json
from podium.node_groups import NodeGroup
from podium.queries import QueryProblem, parse_query, rule_query, select
from podium.queries.model import entities

QUERY_THREADS: Final = 2  # local queries worked out at once; the others wait their turn
T = TypeVar("T")


class LocalQueries:
    """Works out local queries and node groups in a few threads of its own. Each may spend
    its regex budget of CPU (and parsing PQL is CPU too): a burst of heavy queries then waits
    here instead of taking the threads the event loop's default executor has for others."""

    def __init__(self, threads: int = QUERY_THREADS) -> None:
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="query")

    async def run(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, work)

    def close(self) -> None:
        """Drop the queries still waiting; one already running ends within its budget."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def context(self, app: web.Application) -> AsyncIterator[None]:
        """An aiohttp cleanup context: the threads end with the app."""
        yield
        self.close()


@dataclass(frozen=True, slots=True)
class Resolved:
    nodes: list[str]  # without repeats; in dependency order for applications
    components: list[Component] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ScopeContext:
    sources: Sources
    puppetdb: PuppetDb | None = None
    environment: str = ""
    applications: Applications | None = None  # the environment's, for deploys
    queries: LocalQueries = field(kw_only=True)


async def resolve_scope(scope: Scope, context: ScopeContext) -> Resolved:
    """Raises EmptyTarget, QueryError, PuppetDbError, ValidationError or DependencyCycle."""
    if scope.query is not None:
        nodes = await _query(scope.query, context)
    elif scope.node_group is not None and context.puppetdb is not None:
        nodes = await _puppetdb_node_group(scope.node_group, context, context.puppetdb)
    elif scope.node_group is not None:
        sources = context.sources
        nodes = await context.queries.run(lambda: _node_group(scope.node_group or "", sources))
    elif scope.application is not None:
        return resolve_application(scope.application, context)
    else:
        nodes = list(dict.fromkeys(scope.nodes or []))
        if not nodes:
            raise EmptyTarget("The scope resolves to no nodes", scope=scope.as_options())
    return Resolved(nodes)


async def _query(query: Json, context: ScopeContext) -> list[str]:
    if context.puppetdb is not None:
        nodes = await context.puppetdb.certnames(query)
        if not nodes:
            raise EmptyTarget("The query matches no node in PuppetDB", query=query)
        return nodes
    sources = context.sources
    return await context.queries.run(lambda: _local_query(query, sources))


def _local_query(query: Json, sources: Sources) -> list[str]:
    try:
        parsed = parse_query(query)
        nodes = select(parsed, sources.inventory, sources.loaded_at)
    except QueryProblem as problem:
        raise QueryError(problem.msg, query=query, **problem.details) from problem
    if not nodes:
        why = ": Podium has no resource data" if "resources" in entities(parsed) else ""
        raise EmptyTarget(f"The query matches no node{why}", query=query)
    return nodes


def _node_group(group_id: str, sources: Sources) -> list[str]:
    group = _group(group_id, sources)
    try:
        nodes = sources.node_groups.members(group, sources.inventory, sources.loaded_at)
    except QueryProblem as problem:
        raise QueryError(problem.msg, node_group=group_id, **problem.details) from problem
    if not nodes:
        raise EmptyTarget(f"Node group {group.name} has no nodes", node_group=group_id)
    return nodes


async def _puppetdb_node_group(
    group_id: str, context: ScopeContext, puppetdb: PuppetDb
) -> list[str]:
    """The group's rules, inherited ones included, as PuppetDB evaluates them."""
    group = _group(group_id, context.sources)
    try:
        query = rule_query(group.rule_with_inherited)
    except QueryProblem as problem:  # refused when the file loaded; kept for safety's sake
        raise QueryError(problem.msg, node_group=group_id, **problem.details) from problem
    nodes = await puppetdb.certnames(query)
    if not nodes:
        raise EmptyTarget(
            f"Node group {group.name} has no nodes in PuppetDB", node_group=group_id, query=query
        )
    return nodes


def _group(group_id: str, sources: Sources) -> NodeGroup:
    """A group that can be a scope: known, with a rule of its own."""
    group = sources.node_groups.get(group_id)
    if group is None:
        raise ValidationError(
            f"Unknown node group {group_id}", node_group=group_id, reason="unknown"
        )
    if group.rule is None:
        raise ValidationError(
            f"Node group {group_id} ({group.name}) has no rule of its own; "
            "rules inherited from its parents are not enough",
            node_group=group_id,
            reason="no rule of its own",
        )
    return group


def resolve_application(name: str, context: ScopeContext) -> Resolved:
    """An application type (every instance) or one instance, in dependency order."""
    applications = context.applications or Applications({})
    try:
        instances = applications.select(name)
    except BadReference as exc:
        raise ValidationError(str(exc), application=name) from exc
    where = f"in environment {context.environment!r}"
    if not instances:
        raise EmptyTarget(f"No application or application instance {name} {where}", target=name)
    try:
        deployment = plan(instances)
    except CycleFound as exc:
        raise DependencyCycle(str(exc), target=name, cycle=exc.cycle) from exc
    if not deployment.nodes:
        raise EmptyTarget(f"Application {name} {where} has no nodes", target=name)
    return Resolved(deployment.nodes, deployment.components)


def whole_environment(context: ScopeContext) -> Resolved:
    """Every application of the environment, in order, and every node the inventory places
    in it (or does not place anywhere)."""
    applications = context.applications or Applications({})
    try:
        deployment = plan(list(applications.instances.values()))
    except CycleFound as exc:
        raise DependencyCycle(str(exc), environment=context.environment, cycle=exc.cycle) from exc
    inventory = context.sources.inventory
    nodes = dict.fromkeys(deployment.nodes)
    for name, target in inventory.targets.items():
        if not context.environment or target.environment in (None, context.environment):
            nodes.setdefault(name)
    if not nodes:
        raise EmptyEnvironment(
            f"Environment {context.environment!r} has no nodes and no applications to deploy",
            environment=context.environment,
        )
    return Resolved(list(nodes), deployment.components)


def environment_mismatches(
    nodes: Sequence[str], inventory: Inventory, environment: str
) -> dict[str, str]:
    """Nodes the inventory places in another environment, and why they will not run."""
    refused = {}
    for node in nodes:
        target = inventory.targets.get(node)
        found = None if target is None else target.environment
        if found is not None and found != environment:
            refused[node] = (
                f"{node} is in environment {found}, not {environment}; "
                "enforce_environment keeps it from running"
            )
    return refused


async def task_target_nodes(target: TaskTarget, context: ScopeContext) -> set[str]:
    """The nodes a task-target covers: its nodes, the members of its node groups and the
    results of its PQL query, from the same sources as scopes (PuppetDB for the groups and the
    query when one is configured). A group the sources lack, or a query that fails locally, adds
    nothing; PuppetDB failing raises PuppetDbError: no decision can be made without it."""
    nodes = set(target.nodes)
    sources = context.sources
    if target.node_groups and context.puppetdb is not None:
        for group_id in target.node_groups:
            group = sources.node_groups.get(group_id)
            if group is not None and group.rule is not None:
                rules = rule_query(group.rule_with_inherited)
                nodes.update(await context.puppetdb.certnames(rules))
    elif target.node_groups:
        nodes.update(
            await context.queries.run(lambda: _groups_members(target.node_groups, sources))
        )
    if target.pql_query is not None:
        if context.puppetdb is not None:
            nodes.update(await context.puppetdb.certnames(target.pql_query))
        else:
            query = target.pql_query
            nodes.update(await context.queries.run(lambda: _query_nodes(query, sources)))
    return nodes


def _groups_members(group_ids: Sequence[str], sources: Sources) -> set[str]:
    members: set[str] = set()
    for group_id in group_ids:
        group = sources.node_groups.get(group_id)
        if group is not None:
            try:
                members.update(
                    sources.node_groups.members(group, sources.inventory, sources.loaded_at)
                )
            except QueryProblem:
                continue  # rules past their regex budget match nothing here
    return members


def _query_nodes(query: str, sources: Sources) -> list[str]:
    try:
        return select(parse_query(query), sources.inventory, sources.loaded_at)
    except QueryProblem:
        return []
