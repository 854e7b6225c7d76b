"""`podium task run|show` and `podium job run|show|stop|watch`: a running server's orchestrator
API from the command line, in the habits of `puppet task` and `puppet job`.

Exit codes, as `puppet task run` has them: 0 when every node ended well (or was skipped by a
stop), 1 when a node failed or errored, 2 when the job could not start (the API's message on
one line) or the server could not be asked, 130 when Ctrl+C left the job running."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TextIO

from rich.console import Console

from podium.client import display
from podium.client.credentials import TokenSources, find_token
from podium.client.http import ApiClient, ApiError, ClientError, JsonObject
from podium.client.settings import ClientSettings
from podium.client.tally import LEFT_RUNNING, NOT_STARTED, OK, exit_code
from podium.client.task_params import ParamsError, read_params, split_pairs, typed
from podium.client.watch import watch

ORCH: Final = "/orchestrator/v1"

COMMANDS: Final = ("task", "job")
COLOURED_ROWS: Final = 2_000  # node tables longer than this are printed without colours


@dataclass(frozen=True, slots=True)
class Context:
    client: ApiClient
    args: argparse.Namespace
    settings: ClientSettings
    out: Console  # what the command answers: tables, JSON
    err: Console  # progress, questions, what was done

    def json(self, value: Any) -> None:
        self.out.file.write(json.dumps(value, indent=2) + "\n")


Action = Callable[[Context], Awaitable[int]]


def add_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> dict[str, list[argparse.ArgumentParser]]:
    """The `task` and `job` groups; their actions' parsers by group, for the CLI to add the
    options of its table (--url, --token-file, --format) to."""
    task = _group(commands, "task", "Run tasks and show them, on a running server.")
    task_run = _action(task, "run", _task_run, "run a task on nodes and follow it to its end")
    task_run.add_argument("task", help="the task, e.g. package or package::install")
    task_run.add_argument("pairs", nargs="*", metavar="key=value", help="the task's parameters")
    task_run.add_argument("--params", help="the parameters as a JSON object, or @file holding one")
    _scope(task_run, application=False)
    _environment(task_run)
    task_run.add_argument("--noop", action="store_true", help="run in no-op mode")
    _common_run(task_run)
    task_show = _action(task, "show", _task_show, "list the tasks, or show one and its parameters")
    task_show.add_argument("task", nargs="?", help="the task to show (all of them when left out)")
    _environment(task_show)

    job = _group(commands, "job", "Run Puppet, and show, stop and watch jobs, on a running server.")
    job_run = _action(job, "run", _job_run, "run Puppet on nodes (a deploy) and follow it")
    _scope(job_run, application=True)
    _environment(job_run)
    noop = job_run.add_mutually_exclusive_group()
    noop.add_argument("--noop", action="store_true", help="run the agents in no-op mode")
    noop.add_argument("--no-noop", action="store_true", help="enforce, whatever puppet.conf says")
    job_run.add_argument(
        "--no-enforce-environment",
        action="store_true",
        help="let agents run in their own environments",
    )
    for flag in ("debug", "trace", "evaltrace"):
        job_run.add_argument(f"--{flag}", action="store_true", help=f"puppet agent --{flag}")
    _common_run(job_run)
    job_show = _action(job, "show", _job_show, "show a job and its nodes, or the latest jobs")
    job_show.add_argument("job", nargs="?", help="the job's id (the latest jobs when left out)")
    job_show.add_argument("--limit", type=int, default=20, help="jobs listed (default 20)")
    job_stop = _action(job, "stop", _job_stop, "stop a job: runs in progress finish")
    job_stop.add_argument("job", help="the job's id")
    job_stop.add_argument("--force", action="store_true", help="kill the runs in progress too")
    job_watch = _action(job, "watch", _job_watch, "follow a job to its end")
    job_watch.add_argument("job", help="the job's id")
    return {
        "task": [task_run, task_show],
        "job": [job_run, job_show, job_stop, job_watch],
    }


def _group(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], name: str, description: str
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    parser = commands.add_parser(name, help=description, description=description)
    return parser.add_subparsers(dest="action", required=True)


def _action(
    group: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    action: Action,
    help_text: str,
) -> argparse.ArgumentParser:
    description = help_text[0].upper() + help_text[1:]
    parser = group.add_parser(name, help=help_text, description=f"{description}.")
    parser.set_defaults(run=action)
    return parser


def _scope(parser: argparse.ArgumentParser, application: bool) -> None:
    scope = parser.add_mutually_exclusive_group(required=True)
    scope.add_argument("--nodes", help="comma-separated node names, or @file holding them")
    scope.add_argument("--query", help="a PQL query (or PuppetDB AST as JSON) naming the nodes")
    scope.add_argument("--node-group", help="a node group's id")
    if application:
        scope.add_argument("--application", help="an application or instance, e.g. Shop[demo]")


def _environment(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-e", "--environment", default="production", help="(default production)")


def _common_run(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--concurrency", type=int, help="nodes run at once at most")
    parser.add_argument("--description", help="shown with the job")


def plain_console(file: TextIO) -> Console:
    """What the server sends is shown as it is: no [markup], :emoji: or highlighting read in."""
    return Console(file=file, markup=False, emoji=False, highlight=False)


def run(
    args: argparse.Namespace,
    settings: ClientSettings,
    tokens: TokenSources,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    where = f"podium {args.command} {args.action}"
    error_console = plain_console(err)
    try:
        token = find_token(tokens)
        return asyncio.run(_call(args, settings, token, out, error_console))
    except KeyboardInterrupt:  # before a job was being watched: nothing to ask about
        print(f"{where}: interrupted", file=err)
        return LEFT_RUNNING
    except ClientError as exc:
        message = exc.msg if isinstance(exc, ApiError) else str(exc)
        print(f"{where}: {' '.join(message.split())}", file=err)  # one line, always
        return NOT_STARTED


async def _call(
    args: argparse.Namespace, settings: ClientSettings, token: str, out: TextIO, err: Console
) -> int:
    console = plain_console(out)
    async with ApiClient.open(settings.url, token) as client:
        context = Context(client, args, settings, console, err)
        code: int = await args.run(context)
        return code


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


def _run_options(args: argparse.Namespace) -> JsonObject:
    body: JsonObject = {"environment": args.environment, "scope": scope_of(args)}
    if args.concurrency is not None:
        body["concurrency"] = args.concurrency
    if args.description is not None:
        body["description"] = args.description
    return body


async def _task_run(ctx: Context) -> int:
    args = ctx.args
    if args.params is not None and args.pairs:
        raise ParamsError("give the parameters as key=value or with --params, not both")
    if args.params is not None:
        params = read_params(args.params)
    else:
        inline = split_pairs(args.pairs)
        params = typed(inline, await _declared(ctx, args.task) if inline else None)
    body = {"task": args.task, "params": params, **_run_options(args)}
    if args.noop:
        body["noop"] = True
    started = await ctx.client.post(f"{ORCH}/command/task", body)
    return await _follow(ctx, str(started["job"]["name"]))


async def _declared(ctx: Context, task: str) -> dict[str, Any] | None:
    """The task's declared parameters; None when it declares none (anything goes)."""
    module, _, name = task.partition("::")
    answer = await ctx.client.get(
        f"{ORCH}/tasks/{module}/{name or 'init'}", {"environment": ctx.args.environment}
    )
    parameters = (answer.get("metadata") or {}).get("parameters")
    return parameters if isinstance(parameters, dict) else None


async def _job_run(ctx: Context) -> int:
    args = ctx.args
    body = _run_options(args)
    for flag in ("noop", "no_noop", "debug", "trace", "evaltrace"):
        if getattr(args, flag):
            body[flag] = True
    if args.no_enforce_environment:
        body["enforce_environment"] = False
    started = await ctx.client.post(f"{ORCH}/command/deploy", body)
    return await _follow(ctx, str(started["job"]["name"]))


async def _job_watch(ctx: Context) -> int:
    return await _follow(ctx, ctx.args.job)


async def _follow(ctx: Context, name: str) -> int:
    """Show the job's progress until it ends, then its nodes; the exit code its outcome gives."""
    job = await ctx.client.get(f"{ORCH}/jobs/{name}")
    live = ctx.settings.format == "text" or ctx.err.is_terminal
    watched = await watch(ctx.client, job, ctx.err, live)
    job = await ctx.client.get(f"{ORCH}/jobs/{name}")
    if watched.left_running:
        await _show_job(ctx, job, watched.stream(), nodes=False)
        return LEFT_RUNNING
    await _show_job(ctx, job, watched.stream())
    return exit_code(job["state"], job["node_states"] or {})


async def _show_job(
    ctx: Context, job: JsonObject, stream: dict[str, int] | None = None, nodes: bool = True
) -> None:
    items = (await ctx.client.get(f"{ORCH}/jobs/{job['name']}/nodes"))["items"] if nodes else []
    if ctx.settings.format == "json":
        ctx.json({"job": job, "nodes": items} | ({"stream": stream} if stream else {}))
        return
    if items:
        lines = display.node_lines(items)
        if ctx.out.is_terminal and len(items) <= COLOURED_ROWS:
            ctx.out.print(display.coloured_table(lines))
        else:  # as it is: rendering colours costs seconds per 10,000 rows
            ctx.out.file.write(display.plain_table(lines) + "\n")
    ctx.out.print(display.job_summary(job))


async def _job_show(ctx: Context) -> int:
    if ctx.args.job is not None:
        job = await ctx.client.get(f"{ORCH}/jobs/{ctx.args.job}")
        if ctx.settings.format == "text":
            ctx.out.print(display.job_detail(job))
        await _show_job(ctx, job)
        return OK
    query = {"order_by": "name", "order": "desc", "limit": str(ctx.args.limit)}
    answer = await ctx.client.get(f"{ORCH}/jobs", query)
    if ctx.settings.format == "json":
        ctx.json(answer)
    else:
        ctx.out.print(display.job_list(answer["items"]))
    return OK


async def _job_stop(ctx: Context) -> int:
    body = {"job": ctx.args.job, "force": bool(ctx.args.force)}
    answer = await ctx.client.post(f"{ORCH}/command/stop", body)
    if ctx.settings.format == "json":
        ctx.json(answer)
        return OK
    what = "force-stop" if ctx.args.force else "stop"
    ctx.err.print(f"Job {answer['job']['name']}: {what} requested.")
    ctx.out.print(display.counts_text(answer["job"]["nodes"]))
    return OK


async def _task_show(ctx: Context) -> int:
    environment = {"environment": ctx.args.environment}
    if ctx.args.task is None:
        answer = await ctx.client.get(f"{ORCH}/tasks", environment)
        render: Any = display.task_list
    else:
        module, _, name = ctx.args.task.partition("::")
        answer = await ctx.client.get(f"{ORCH}/tasks/{module}/{name or 'init'}", environment)
        render = display.task_detail
    if ctx.settings.format == "json":
        ctx.json(answer)
    else:
        ctx.out.print(render(answer))
    return OK
