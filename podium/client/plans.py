"""`podium plan run|show|stop`: run a plan and follow it to its end (its messages and the jobs
its steps start as they come, then its result), list or show plans, stop a plan job."""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import dataclass
from typing import Final

from rich.console import Console, RenderableType

from podium.client import display
from podium.client.arguments import add_environment, add_params, params_of
from podium.client.commands import ORCH, Context, Subcommands, action, group
from podium.client.follow import Resumed, plan_job_events
from podium.client.http import ApiClient
from podium.client.interrupt import answer_or_interrupt, follow_until_done
from podium.client.tally import LEFT_RUNNING, OK, PlanTally, plan_exit_code
from podium.client.watch import LiveScreen

COMMANDS: Final = ("plan",)
QUESTION: Final = "Stop plan job {plan_job}? No further step starts. [y]es, [N]o: "


def add_commands(commands: Subcommands) -> dict[str, list[argparse.ArgumentParser]]:
    plan = group(commands, "plan", "Run plans and show them, on a running server.")
    plan_run = action(plan, "run", _plan_run, "run a plan and follow it to its end")
    plan_run.add_argument("plan", help="the plan, e.g. ops::canary")
    add_params(plan_run, "plan")
    add_environment(plan_run)
    plan_run.add_argument("--description", help="shown with the plan job")
    plan_show = action(plan, "show", _plan_show, "list the plans, or show one and its parameters")
    plan_show.add_argument("plan", nargs="?", help="the plan to show (all of them when left out)")
    add_environment(plan_show)
    plan_stop = action(plan, "stop", _plan_stop, "stop a plan job: no further step starts")
    plan_stop.add_argument("plan_job", help="the plan job's id")
    return {"plan": [plan_run, plan_show, plan_stop]}


@dataclass(slots=True)
class Followed:
    tally: PlanTally
    left_running: bool = False
    resumed: int = 0

    def stream(self) -> dict[str, int]:
        return {
            "events": self.tally.events,
            "duplicates": self.tally.duplicates,
            "resumed": self.resumed,
            "last_event": self.tally.last_id,
        }


class _PlanScreen(LiveScreen):
    def __init__(self, followed: Followed, plan: str, console: Console, shown: bool) -> None:
        self.followed, self.plan = followed, plan  # before Live, which renders at once
        super().__init__(console, shown)

    def render(self) -> RenderableType:
        return display.plan_progress(self.followed.tally, self.plan, self.note)

    def resumed(self, resume: Resumed) -> None:
        super().resumed(resume)
        self.followed.resumed += 1


async def _plan_run(ctx: Context) -> int:
    args = ctx.args
    body = {
        "plan_name": args.plan,
        "params": await params_of(ctx, "plans", args.plan),
        "environment": args.environment,
    }
    if args.description is not None:
        body["description"] = args.description
    started = await ctx.client.post(f"{ORCH}/command/plan_run", body)
    name = str(started["name"])
    followed = await follow_plan(ctx.client, name, args.plan, ctx.err, not ctx.as_json)
    plan_job = await ctx.client.get(f"{ORCH}/plan_jobs/{name}")
    if ctx.as_json:
        ctx.json({"plan_job": plan_job, "stream": followed.stream()})
    else:
        ctx.out.print(display.plan_summary(plan_job))
        if plan_job.get("result") is not None:
            ctx.out.file.write(json.dumps(plan_job["result"], indent=2) + "\n")
    return LEFT_RUNNING if followed.left_running else plan_exit_code(plan_job["state"])


async def follow_plan(
    client: ApiClient, name: str, plan: str, console: Console, live: bool
) -> Followed:
    """Follow the plan job to its end: each message and step on `console` as it comes, the
    live state besides when `live`; Ctrl+C asks whether to stop it."""
    followed = Followed(PlanTally(name))
    screen = _PlanScreen(followed, plan, console, live or console.is_terminal)

    async def follow() -> None:
        async for event in plan_job_events(client, name, on_resume=screen.resumed):
            line = followed.tally.apply(event)
            screen.note = ""
            if line is not None:
                console.print(line)  # above the live display, on a terminal

    async def ask(interrupted: asyncio.Event) -> bool:
        console.print(QUESTION.format(plan_job=name), end="")
        answer = await answer_or_interrupt(interrupted)
        if answer is None:
            console.print(f"\nLeft plan job {name} running.")
            return False
        if answer.strip().lower() in ("y", "yes"):
            await client.post(f"{ORCH}/command/stop_plan", {"plan_job": name})
            console.print(f"Stopping plan job {name} (a job it started goes on: podium job stop).")
        return True

    def announce() -> None:
        console.print(f"Following plan job {name}: {plan}")

    followed.left_running = not await follow_until_done(follow(), screen, ask, announce)
    return followed


async def _plan_show(ctx: Context) -> int:
    environment = {"environment": ctx.args.environment}
    if ctx.args.plan is None:
        answer = await ctx.client.get(f"{ORCH}/plans", environment)
        shown: RenderableType = display.plan_list(answer)
    else:
        module, _, name = ctx.args.plan.partition("::")
        answer = await ctx.client.get(f"{ORCH}/plans/{module}/{name or 'init'}", environment)
        shown = display.plan_detail(answer)
    if ctx.as_json:
        ctx.json(answer)
    else:
        ctx.out.print(shown)
    return OK


async def _plan_stop(ctx: Context) -> int:
    answer = await ctx.client.post(f"{ORCH}/command/stop_plan", {"plan_job": ctx.args.plan_job})
    if ctx.as_json:
        ctx.json(answer)
    else:
        ctx.err.print(f"Plan job {answer['name']}: stop requested; no further step starts.")
    return OK
