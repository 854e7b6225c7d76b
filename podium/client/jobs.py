"""`podium task run|show` and `podium job run|show|stop|watch`: a running server's orchestrator
API from the command line, in the habits of `puppet task` and `puppet job` (exit codes in
`podium.client.commands`)."""

from __future__ import annotations

import argparse
from typing import Any, Final

from podium.client import display
from podium.client.arguments import add_environment, add_params, add_scope, params_of, scope_of
from podium.client.commands import ORCH, Context, Subcommands, action, group
from podium.client.diff import diff_table
from podium.client.http import JsonObject
from podium.client.tally import LEFT_RUNNING, OK, exit_code
from podium.client.watch import watch

COMMANDS: Final = ("task", "job")
COLOURED_ROWS: Final = 2_000  # node tables longer than this are printed without colours


def add_commands(
    commands: Subcommands,
) -> dict[str, list[argparse.ArgumentParser]]:
    """The `task` and `job` groups; their actions' parsers by group, for the CLI to add the
    options of its table (--url, --token-file, --format) to."""
    task = group(commands, "task", "Run tasks and show them, on a running server.")
    task_run = action(task, "run", _task_run, "run a task on nodes and follow it to its end")
    task_run.add_argument("task", help="the task, e.g. package or package::install")
    add_params(task_run, "task")
    add_scope(task_run)
    add_environment(task_run)
    task_run.add_argument("--noop", action="store_true", help="run in no-op mode")
    _common_run(task_run)
    task_show = action(task, "show", _task_show, "list the tasks, or show one and its parameters")
    task_show.add_argument("task", nargs="?", help="the task to show (all of them when left out)")
    add_environment(task_show)

    job = group(commands, "job", "Run Puppet, and show, stop and watch jobs, on a running server.")
    job_run = action(job, "run", _job_run, "run Puppet on nodes (a deploy) and follow it")
    add_scope(job_run, application=True)
    add_environment(job_run)
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
    job_show = action(job, "show", _job_show, "show a job and its nodes, or the latest jobs")
    job_show.add_argument("job", nargs="?", help="the job's id (the latest jobs when left out)")
    job_show.add_argument("--limit", type=int, default=20, help="jobs listed (default 20)")
    job_stop = action(job, "stop", _job_stop, "stop a job: runs in progress finish")
    job_stop.add_argument("job", help="the job's id")
    job_stop.add_argument("--force", action="store_true", help="kill the runs in progress too")
    job_watch = action(job, "watch", _job_watch, "follow a job to its end")
    job_watch.add_argument("job", help="the job's id")
    job_diff = action(job, "diff", _job_diff, "compare two jobs node by node")
    job_diff.add_argument("a", help="a job's id, e.g. 12")
    job_diff.add_argument("b", help="another job's id, e.g. 15")
    return {
        "task": [task_run, task_show],
        "job": [job_run, job_show, job_stop, job_watch, job_diff],
    }


def _common_run(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--concurrency", type=int, help="nodes run at once at most")
    parser.add_argument("--description", help="shown with the job")


def _run_options(args: argparse.Namespace) -> JsonObject:
    body: JsonObject = {"environment": args.environment, "scope": scope_of(args)}
    if args.concurrency is not None:
        body["concurrency"] = args.concurrency
    if args.description is not None:
        body["description"] = args.description
    return body


async def _task_run(ctx: Context) -> int:
    args = ctx.args
    params = await params_of(ctx, "tasks", args.task)
    body = {"task": args.task, "params": params, **_run_options(args)}
    if args.noop:
        body["noop"] = True
    started = await ctx.client.post(f"{ORCH}/command/task", body)
    return await _follow(ctx, str(started["job"]["name"]))


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
    live = not ctx.as_json or ctx.err.is_terminal
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
    if ctx.as_json:
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
        if not ctx.as_json:
            ctx.out.print(display.job_detail(job))
        await _show_job(ctx, job)
        return OK
    query = {"order_by": "name", "order": "desc", "limit": str(ctx.args.limit)}
    answer = await ctx.client.get(f"{ORCH}/jobs", query)
    if ctx.as_json:
        ctx.json(answer)
    else:
        ctx.out.print(display.job_list(answer["items"]))
    return OK


async def _job_stop(ctx: Context) -> int:
    body = {"job": ctx.args.job, "force": bool(ctx.args.force)}
    answer = await ctx.client.post(f"{ORCH}/command/stop", body)
    if ctx.as_json:
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
    if ctx.as_json:
        ctx.json(answer)
    else:
        ctx.out.print(render(answer))
    return OK


async def _job_diff(ctx: Context) -> int:
    answer = await ctx.client.get(f"{ORCH}/jobs/{ctx.args.a}/diff/{ctx.args.b}")
    if ctx.as_json:
        ctx.json(answer)
    else:
        ctx.out.file.write(diff_table(answer) + "\n")  # as is: a table wider than 80 stays one
    return OK
