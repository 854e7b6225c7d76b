"""How client commands look on a terminal, with `rich`: a job's progress bar and counts, its
per-node table, the latest jobs, tasks. Builds renderables from the API's answers; prints
nothing itself."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from rich.console import Group, RenderableType
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from podium.client.tally import NODE_STATES, PlanTally, Tally

STYLES: Final = {
    "new": "dim",
    "running": "cyan",
    "finished": "green",
    "failed": "red",
    "errored": "magenta",
    "skipped": "yellow",
    "stopping": "yellow",
    "stopped": "yellow",
    "ready": "dim",
}
PLAN_STYLES: Final = {"running": "cyan", "success": "green", "failure": "red"}
RESULT_WIDTH: Final = 120  # characters of a node's result shown in its row


def counts_text(counts: Mapping[str, int]) -> Text:
    """`new 3 · running 2 · finished 10 ...`, every node state, each in its colour."""
    text = Text()
    for index, state in enumerate(NODE_STATES):
        if index:
            text.append(" · ", style="dim")
        text.append(f"{state} {counts.get(state, 0)}", style=STYLES[state])
    return text


def progress(tally: Tally, title: str, note: str = "") -> RenderableType:
    """One job's progress: a bar of the nodes done, then the counts per node state."""
    head = Table.grid(padding=(0, 1))
    head.add_row(
        Text(f"Job {tally.job}", style="bold"),
        Text(title),
        Text(tally.job_state, style=STYLES.get(tally.job_state, "")),
        ProgressBar(total=max(tally.node_count, 1), completed=tally.done(), width=30),
        Text(f"{tally.done()}/{tally.node_count}"),
    )
    lines: list[RenderableType] = [head, counts_text(tally.counts())]
    if note:
        lines.append(Text(note, style="yellow"))
    return Group(*lines)


def job_title(job: Mapping[str, Any]) -> str:
    """`task demo::echo` or `deploy production (noop)`: what the job runs."""
    options = job.get("options") or {}
    if job.get("type") == "deploy":
        environment = options.get("environment") or "(each node's environment)"
        return f"deploy {environment}" + (" (noop)" if options.get("noop") else "")
    return f"task {options.get('task', '?')}" + (" (noop)" if options.get("noop") else "")


def result_summary(node: Mapping[str, Any]) -> str:
    """A node's result in one line: the error's message when it failed or errored, the task's
    output otherwise, the reason when skipped."""
    result = node.get("result")
    if node.get("state") == "skipped" or result is None:
        return str((node.get("details") or {}).get("message", ""))
    if isinstance(result, dict):
        error = result.get("_error")
        if isinstance(error, dict):
            return str(error.get("msg", error))
        if node.get("state") == "errored" and "msg" in result:
            return str(result["msg"])
        if set(result) == {"_output"}:
            return " ".join(str(result["_output"]).split())
        if isinstance(result.get("metrics"), dict) and "status" in result:
            return puppet_run_summary(result)
    return json.dumps(result, separators=(",", ":"))


def puppet_run_summary(result: Mapping[str, Any]) -> str:
    """`unchanged (noop, changes pending): 119 resources, out_of_sync 2`: a deploy's result."""
    metrics = result["metrics"]
    noop = (result.get("noop") or {}).get("noop")
    how = ["noop"] if noop else []
    if result.get("noop_pending"):
        how.append("changes pending")
    counted = [f"{name} {value}" for name, value in metrics.items() if name != "total" and value]
    text = f"{result['status']}" + (f" ({', '.join(how)})" if how else "")
    return f"{text}: {metrics.get('total', 0)} resources" + "".join(f", {c}" for c in counted)


def _shortened(text: str) -> str:
    return text if len(text) <= RESULT_WIDTH else text[: RESULT_WIDTH - 1] + "…"


NodeLine = tuple[str, str, str]  # name column, state column, the rest


def node_lines(nodes: list[Mapping[str, Any]]) -> list[NodeLine]:
    """The node table's lines, header first, in aligned columns: name, state, duration, result."""
    width = max([4, *(len(str(node.get("name"))) for node in nodes)])
    lines = [(f"{'node':<{width}}  ", f"{'state':<8}", f"  {'duration':>8}  result")]
    for node in nodes:
        summary = _shortened(result_summary(node))
        lines.append(
            (
                f"{node.get('name')!s:<{width}}  ",
                f"{node.get('state')!s:<8}",
                f"  {_seconds(node.get('duration')):>8}  {summary}".rstrip(),
            )
        )
    return lines


def plain_table(lines: list[NodeLine]) -> str:
    return "\n".join(f"{name}{state}{rest}" for name, state, rest in lines)


def coloured_table(lines: list[NodeLine]) -> Text:
    """The lines with each state in its colour: seconds per 10,000 lines to render, so for
    short tables (a rich `Table` measures every cell, and takes longer still)."""
    text = Text(no_wrap=True, overflow="ellipsis")
    (name, state, rest), *rows = lines
    text.append(f"{name}{state}{rest}", style="bold")
    for name, state, rest in rows:
        text.append(f"\n{name}")
        text.append(state, style=STYLES.get(state.strip(), ""))
        text.append(rest)
    return text


def _seconds(value: Any) -> str:
    return "" if value is None else f"{float(value):.1f} s"


def job_summary(job: Mapping[str, Any]) -> Text:
    """`Job 12 finished in 3.2 s: 10 nodes, finished 9 · failed 1`."""
    states = job.get("node_states") or {}
    counts = ", ".join(f"{state} {states[state]}" for state in NODE_STATES if states.get(state))
    text = Text(f"Job {job['name']} ", style="bold")
    text.append(str(job["state"]), style=STYLES.get(str(job["state"]), ""))
    duration = job.get("duration")
    if duration is not None and job["state"] in ("finished", "failed", "stopped"):
        text.append(f" in {float(duration):.1f} s")
    count = int(job.get("node_count") or 0)
    text.append(f": {count} node{'' if count == 1 else 's'}" + (f" ({counts})" if counts else ""))
    return text


def job_detail(job: Mapping[str, Any]) -> Table:
    """One job's fields, a line each."""
    table = Table.grid(padding=(0, 2))
    owner = (job.get("owner") or {}).get("login", "")
    rows = [
        ("job", str(job["name"])),
        ("runs", job_title(job)),
        ("state", str(job["state"])),
        ("owner", str(owner)),
        ("description", str(job.get("description") or "")),
        ("scope", json.dumps((job.get("options") or {}).get("scope"))),
        ("started", str(job.get("started_timestamp") or "")),
        ("finished", str(job.get("finished_timestamp") or "")),
        ("duration", _seconds(job.get("duration"))),
        ("nodes", str(job.get("node_count", 0))),
    ]
    for name, value in rows:
        if value:
            table.add_row(Text(name, style="bold"), value)
    return table


def job_list(jobs: list[Mapping[str, Any]]) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("job", "state", "runs", "owner", "nodes", "started", "duration"):
        table.add_column(column)
    for job in jobs:
        state = str(job["state"])
        table.add_row(
            str(job["name"]),
            Text(state, style=STYLES.get(state, "")),
            job_title(job),
            str((job.get("owner") or {}).get("login", "")),
            str(job.get("node_count", 0)),
            str(job.get("started_timestamp") or ""),
            _seconds(job.get("duration")),
        )
    return table


def task_list(answer: Mapping[str, Any]) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column(f"tasks in {answer['environment']['name']}")
    for item in answer["items"]:
        table.add_row(str(item["name"]))
    return table


def task_detail(answer: Mapping[str, Any]) -> Group:
    """A task's name, description, noop support and parameters."""
    metadata = answer.get("metadata") or {}
    head = Text(str(answer["name"]), style="bold")
    if metadata.get("description"):
        head.append(f": {metadata['description']}")
    noop = "supports noop" if metadata.get("supports_noop") else "does not support noop"
    parameters = metadata.get("parameters")
    if parameters is None:
        return Group(head, Text(noop), Text("parameters: any (the task declares none)"))
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("parameter", "type", "default", "description"):
        table.add_column(column, overflow="fold")
    for name, spec in parameters.items():
        default = json.dumps(spec["default"]) if "default" in spec else ""
        table.add_row(
            str(name), str(spec.get("type", "Any")), default, str(spec.get("description", ""))
        )
    return Group(head, Text(noop), table if parameters else Text("parameters: none"))


def plan_progress(tally: PlanTally, plan: str, note: str = "") -> RenderableType:
    """A plan job's state and the jobs its steps have started so far."""
    text = Text(f"Plan job {tally.plan_job} ", style="bold")
    text.append(f"{plan} ")
    text.append(tally.state, style=PLAN_STYLES.get(tally.state, ""))
    text.append(f": {len(tally.jobs)} step job{'' if len(tally.jobs) == 1 else 's'}")
    if tally.jobs:
        text.append(f" (last: job {tally.jobs[-1]})")
    return Group(text, Text(note, style="yellow")) if note else text


def plan_summary(plan_job: Mapping[str, Any]) -> Text:
    """`Plan job 3 demo::rollout success in 1.1 s`."""
    state = str(plan_job["state"])
    text = Text(f"Plan job {plan_job['name']} ", style="bold")
    text.append(f"{(plan_job.get('options') or {}).get('plan_name', '')} ")
    text.append(state, style=PLAN_STYLES.get(state, ""))
    if plan_job.get("duration") is not None:
        text.append(f" in {float(plan_job['duration']):.1f} s")
    return text


def plan_list(answer: Mapping[str, Any]) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column(f"plans in {answer['environment']['name']}")
    for item in answer["items"]:
        table.add_row(Text(str(item["name"])))
    return table


def plan_detail(answer: Mapping[str, Any]) -> Group:
    """A plan's name, description and parameters."""
    metadata = answer.get("metadata") or {}
    head = Text(str(answer["name"]), style="bold")
    if metadata.get("description"):
        head.append(f": {metadata['description']}")
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("parameter", "type", "default", "description"):
        table.add_column(column, overflow="fold")
    for name, spec in (metadata.get("parameters") or {}).items():
        default = spec.get("default_value")
        table.add_row(
            str(name),
            str(spec.get("type") or "Any"),
            "" if default is None else json.dumps(default),
            str(spec.get("description") or ""),
        )
    return Group(head, table if metadata.get("parameters") else Text("parameters: none"))


def schedule_list(items: list[Mapping[str, Any]]) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("schedule", "runs", "scope", "next run", "every", "owner"):
        table.add_column(column, overflow="fold")
    for item in items:
        interval = ((item.get("schedule_options") or {}).get("interval") or {}).get("value")
        what = item.get("task") or item.get("plan") or item.get("environment") or ""
        table.add_row(
            str(item["name"]),
            f"{item.get('type', '')} {what}",
            json.dumps(item.get("scope")) if item.get("scope") else "",
            str(item.get("next_run") or ""),
            "once" if interval is None else f"{interval} s",
            str((item.get("owner") or {}).get("login", "")),
        )
    return table
