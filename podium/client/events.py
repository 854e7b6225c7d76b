"""`podium events export --since N --format jsonl`: every job event after id N, one JSON object
a line, each with its `id`, then exit.

The events come a page at a time from `GET /events?start=` (each page ends at the log position
the server had folded when it answered, so nothing is missed and nothing repeats between
pages). A forwarder keeps the `id` of the last line it shipped and runs the export again with
`--since` that id: it gets each event exactly once.
"""

from __future__ import annotations

import argparse
import json
from typing import Final

from podium.client.commands import ORCH, Context, Subcommands, action, group
from podium.client.tally import OK

COMMANDS: Final = ("events",)
DEFAULT_PAGE: Final = 5000


def add_commands(commands: Subcommands) -> dict[str, list[argparse.ArgumentParser]]:
    """The `events` group; its actions' parsers, for the CLI to add --url and --token-file to."""
    events = group(commands, "events", "Export job events, from a running server.")
    export = action(
        events, "export", _export, "print every job event after an id, one JSON object a line"
    )
    export.add_argument(
        "--since",
        type=_event_id,
        default=0,
        metavar="ID",
        help="the id of the last event already exported (default 0: from the first)",
    )
    export.add_argument(
        "--format", dest="export_format", choices=("jsonl",), default="jsonl", help="jsonl"
    )
    export.add_argument("--job", help="only this job's events")
    export.add_argument("--type", help="only events of this type, e.g. job_finished")
    export.add_argument(
        "--page-size",
        type=_positive,
        default=DEFAULT_PAGE,
        metavar="N",
        help=f"events asked for at once (default {DEFAULT_PAGE})",
    )
    return {"events": [export]}


def _event_id(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"an event id is 0 or more, not {text}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text}")
    return value


async def _export(ctx: Context) -> int:
    args, out = ctx.args, ctx.out.file
    start, exported, last = args.since + 1, 0, None
    filters = {key: value for key in ("job", "type") if (value := getattr(args, key)) is not None}
    while True:
        query = {"start": str(start), "limit": str(args.page_size), **filters}
        page = await ctx.client.get(f"{ORCH}/events", query)
        for item in page["items"]:
            out.write(json.dumps(item, separators=(",", ":")) + "\n")
        out.flush()
        exported += len(page["items"])
        if page["items"]:
            last = page["items"][-1]["id"]
        if len(page["items"]) < args.page_size:
            break
        start = int(page["next-events"]["event"])
    resume = f"; resume with --since {last}" if last is not None else ""
    ctx.err.file.write(f"{exported} events exported{resume}\n")
    return OK
