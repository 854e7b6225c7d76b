"""Arguments several commands take, and what they become in a request: the target nodes
(`--nodes`, `--query`, `--node-group`), the environment, and a task's or a plan's parameters
(`key=value` pairs, or `--params`), typed by what the task or plan declares."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from podium.client.commands import ORCH, Context
from podium.client.http import JsonObject
from podium.client.task_params import ParamsError, read_params, split_pairs, typed


def add_scope(parser: argparse.ArgumentParser, application: bool = False) -> None:
    scope = parser.add_mutually_exclusive_group(required=True)
    scope.add_argument("--nodes", help="comma-separated node names, or @file holding them")
    scope.add_argument("--query", help="a PQL query (or PuppetDB AST as JSON) naming the nodes")
    scope.add_argument("--node-group", help="a node group's id")
    if application:
        scope.add_argument("--application", help="an application or instance, e.g. Shop[demo]")


def add_environment(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-e", "--environment", default="production", help="(default production)")


def add_params(parser: argparse.ArgumentParser, of: str) -> None:
    parser.add_argument("pairs", nargs="*", metavar="key=value", help=f"the {of}'s parameters")
    parser.add_argument("--params", help="the parameters as a JSON object, or @file holding one")


def scope_of(args: argparse.Namespace) -> JsonObject:
    """The API's scope from --nodes, --query, --node-group or --application."""
    if args.nodes is not None:
        return {"nodes": node_names(args.nodes)}
    if args.query is not None:
        query = args.query.strip()
        if not query.startswith("["):
            return {"query": query}  # PQL
        try:
            return {"query": json.loads(query)}
        except ValueError as exc:
            raise ParamsError(f"--query starts with [ but is not JSON: {exc}") from exc
    if args.node_group is not None:
        return {"node_group": args.node_group}
    return {"application": args.application}


def node_names(given: str) -> list[str]:
    """`a,b,c`, or `@file` with names separated by commas, spaces or lines (as PE's tools take
    them: a long list does not fit on a command line). Raises ParamsError."""
    if given.startswith("@"):
        try:
            given = Path(given[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise ParamsError(f"cannot read the nodes file {given[1:]}: {exc.strerror}") from exc
    return [name for name in re.split(r"[,\s]+", given) if name]


async def params_of(ctx: Context, kind: str, name: str) -> dict[str, Any]:
    """The parameters of task or plan `name` (kind `tasks` or `plans`) from `--params` or the
    `key=value` pairs, typed by what it declares. Raises ParamsError, ApiError (no such task)."""
    args = ctx.args
    if args.params is not None and args.pairs:
        raise ParamsError("give the parameters as key=value or with --params, not both")
    if args.params is not None:
        return read_params(args.params)
    inline = split_pairs(args.pairs)
    return typed(inline, await _declared(ctx, kind, name) if inline else None)


async def _declared(ctx: Context, kind: str, name: str) -> dict[str, Any] | None:
    """What the task or plan declares of its parameters; None when it declares none."""
    module, _, short = name.partition("::")
    answer = await ctx.client.get(
        f"{ORCH}/{kind}/{module}/{short or 'init'}", {"environment": ctx.args.environment}
    )
    parameters = (answer.get("metadata") or {}).get("parameters")
    return parameters if isinstance(parameters, dict) else None
