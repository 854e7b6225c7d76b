"""What every orchestrator command of the client shares: its context (the API client, the
parsed arguments, the two consoles), how its parser is declared, and how it is run: errors
become one line on stderr and exit code 2, as `puppet task run` exits when a job cannot start.

Exit codes: 0 done (every node ended well, or was skipped by a stop), 1 a node failed or
errored (a plan failed), 2 the job could not start (the API's message on one line) or the
server could not be asked, 130 Ctrl+C left the job running."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, TextIO, TypeAlias

from rich.console import Console

from podium.client.credentials import TokenSources, find_token
from podium.client.http import ApiClient, ApiError, ClientError
from podium.client.settings import ClientSettings
from podium.client.tally import LEFT_RUNNING, NOT_STARTED

ORCH: Final = "/orchestrator/v1"
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


@dataclass(frozen=True, slots=True)
class Context:
    client: ApiClient
    args: argparse.Namespace
    settings: ClientSettings
    out: Console  # what the command answers: tables, JSON
    err: Console  # progress, questions, what was done

    @property
    def as_json(self) -> bool:
        return self.settings.format == "json"

    def json(self, value: Any) -> None:
        self.out.file.write(json.dumps(value, indent=2) + "\n")


Action = Callable[[Context], Awaitable[int]]


def group(commands: Subcommands, name: str, description: str) -> Subcommands:
    parser = commands.add_parser(name, help=description, description=description)
    return parser.add_subparsers(dest="action", required=True)


def action(into: Subcommands, name: str, run: Action, help_text: str) -> argparse.ArgumentParser:
    description = help_text[0].upper() + help_text[1:]
    parser = into.add_parser(name, help=help_text, description=f"{description}.")
    parser.set_defaults(run=run)
    return parser


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
    """Run the action the arguments name; its exit code."""
    where = f"podium {args.command} {args.action}"
    try:
        token = find_token(tokens)
        return asyncio.run(_call(args, settings, token, out, err))
    except KeyboardInterrupt:  # before anything was followed: nothing to ask about
        print(f"{where}: interrupted", file=err)
        return LEFT_RUNNING
    except ClientError as exc:
        message = exc.msg if isinstance(exc, ApiError) else str(exc)
        print(f"{where}: {' '.join(message.split())}", file=err)  # one line, always
        return NOT_STARTED


async def _call(
    args: argparse.Namespace, settings: ClientSettings, token: str, out: TextIO, err: TextIO
) -> int:
    async with ApiClient.open(settings.url, token) as client:
        context = Context(client, args, settings, plain_console(out), plain_console(err))
        code: int = await args.run(context)
        return code
