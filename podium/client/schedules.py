"""`podium schedule task|list|delete`: tasks that run later, once or again and again
(`/command/schedule_task`, `/scheduled_jobs`)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Final

from podium.client import display
from podium.client.arguments import add_environment, add_params, add_scope, params_of, scope_of
from podium.client.commands import ORCH, Context, Subcommands, action, group
from podium.client.tally import OK
from podium.client.times import seconds_of, start_time

COMMANDS: Final = ("schedule",)


def add_commands(commands: Subcommands) -> dict[str, list[argparse.ArgumentParser]]:
    schedule = group(commands, "schedule", "Schedule tasks, list and delete schedules.")
    task = action(schedule, "task", _schedule_task, "run a task later, once or every so often")
    task.add_argument("task", help="the task, e.g. package or package::install")
    add_params(task, "task")
    add_scope(task)
    task.add_argument("--at", required=True, help="when: +10m (from now), or ISO-8601 (UTC)")
    task.add_argument("--every", help="and again every 90s, 30m, 12h, 1d, 2w ... (default once)")
    add_environment(task)
    task.add_argument("--noop", action="store_true", help="run in no-op mode")
    task.add_argument("--description", help="shown with the schedule and its jobs")
    listed = action(schedule, "list", _schedule_list, "list the schedules that have a run to come")
    listed.add_argument("--limit", type=int, default=50, help="schedules listed (default 50)")
    delete = action(schedule, "delete", _schedule_delete, "delete a schedule: it runs no more")
    delete.add_argument("schedule", help="the schedule's id")
    return {"schedule": [task, listed, delete]}


async def _schedule_task(ctx: Context) -> int:
    args = ctx.args
    body = {
        "task": args.task,
        "params": await params_of(ctx, "tasks", args.task),
        "scope": scope_of(args),
        "environment": args.environment,
        "scheduled_time": start_time(args.at, datetime.now(UTC)),
    }
    if args.every is not None:
        interval = {"units": "seconds", "value": seconds_of(args.every)}
        body["schedule_options"] = {"interval": interval}
    for key in ("noop", "description"):
        if getattr(args, key):
            body[key] = getattr(args, key)
    answer = await ctx.client.post(f"{ORCH}/command/schedule_task", body)
    if ctx.as_json:
        ctx.json(answer)
        return OK
    every = f", every {seconds_of(args.every)} s" if args.every is not None else ", once"
    ctx.out.print(
        f"Scheduled job {answer['scheduled_job']['name']}: {args.task} at "
        f"{body['scheduled_time']}{every}"
    )
    return OK


async def _schedule_list(ctx: Context) -> int:
    query = {"order_by": "next_run", "limit": str(ctx.args.limit)}
    answer = await ctx.client.get(f"{ORCH}/scheduled_jobs", query)
    if ctx.as_json:
        ctx.json(answer)
    else:
        ctx.out.print(display.schedule_list(answer["items"]))
    return OK


async def _schedule_delete(ctx: Context) -> int:
    await ctx.client.delete(f"{ORCH}/scheduled_jobs/{ctx.args.schedule}")
    ctx.err.print(f"Scheduled job {ctx.args.schedule} deleted: it runs no more.")
    return OK
