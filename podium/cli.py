"""The `podium` command line, built from the table of `podium.options`. Every flag can also be
given as `PODIUM_<FLAG>` in the environment; this module is the only place that reads the
environment, and it passes on to local runs only the few variables `base_env` allows (never
PODIUM_AMQP_URL and its credentials).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Final

from podium import log_commands, projection_commands
from podium.client import admin as admin_commands
from podium.client import commands as client_commands
from podium.client import events as event_commands
from podium.client import jobs as job_commands
from podium.client import plans as plan_commands
from podium.client import schedules as schedule_commands
from podium.client.credentials import TokenSources
from podium.events.crashpoints import CRASH_VARIABLE, arm
from podium.executor.settings import base_env
from podium.options import (
    CLIENT_COMMANDS,
    COMMANDS,
    Option,
    OptionError,
    build_client_settings,
    build_settings,
    options_of,
)
from podium.settings import Settings

DESCRIPTIONS: Final = {  # one line each
    "serve": "All roles in one process: embedded, or on RabbitMQ.",
    "api": "The orchestrator API on RabbitMQ: any number of replicas.",
    "scheduler": "Job lifecycles on RabbitMQ: one leads, others stand by.",
    "executor": "Node runs on RabbitMQ: any number, on any machine.",
}


def _argument_type(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """argparse says 'invalid value' for a ValueError, and the message for this one."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except OptionError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from exc

    convert.__name__ = parse.__name__  # argparse names the type in its message
    return convert


def _from_environment(option: Option, environ: Mapping[str, str]) -> Any:
    """The value PODIUM_<FLAG> gives, None when unset. Raises OptionError."""
    raw = environ.get(option.env)
    if raw is None:
        return None
    try:
        return option.parse(raw)
    except (OptionError, ValueError) as exc:
        raise OptionError(f"{option.env}={raw!r}: {exc}") from exc


def _help(option: Option) -> str:
    default = option.shown_default()
    return f"{option.help} (env {option.env}" + (f"; default {default})" if default else ")")


def _add(parser: argparse.ArgumentParser, option: Option, environ: Mapping[str, str]) -> None:
    default = _from_environment(option, environ)
    if option.boolean:
        parser.add_argument(
            option.flag,
            action=argparse.BooleanOptionalAction,
            default=default,
            help=_help(option),
        )
        return
    parser.add_argument(
        option.flag,
        type=_argument_type(option.parse),
        default=default,
        metavar=option.dest.upper(),
        help=_help(option),
    )


def _package_version() -> str:
    try:
        return version("podium")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def build_parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    """Raises OptionError for a PODIUM_* variable that does not parse."""
    parser = argparse.ArgumentParser(
        prog="podium",
        description="An event-sourced job engine that speaks the Puppet orchestrator v1 API.",
    )
    parser.add_argument("--version", action="version", version=f"podium {_package_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        description = DESCRIPTIONS[command]
        sub = commands.add_parser(command, help=description, description=description)
        for option in options_of(command):
            _add(sub, option, environ)
    for client in (job_commands, plan_commands, schedule_commands, event_commands):
        for group, actions in client.add_commands(commands).items():
            for action in actions:
                for option in options_of(group):
                    _add(action, option, environ)
    admin_commands.add_commands(commands, environ)
    log_commands.add_commands(commands, environ)
    projection_commands.add_commands(commands, environ)
    return parser


def token_sources(token_file: Path | None, environ: Mapping[str, str]) -> TokenSources:
    """Where a client command looks for its token, in order (see podium.client.credentials)."""
    return TokenSources(
        token_file, environ.get("PODIUM_TOKEN"), Path.home() / ".puppetlabs" / "token"
    )


def settings_from(argv: Sequence[str], environ: Mapping[str, str]) -> Settings:
    """The settings a command line and an environment give. Raises OptionError, or SystemExit
    (argparse's) for a command line that does not parse."""
    args = build_parser(environ).parse_args(argv)
    return build_settings(vars(args), base_env(environ))


def _arm_crash_point(environ: Mapping[str, str]) -> None:
    """Tests only: die at a named point of the log's writes (podium.events.crashpoints)."""
    if environ.get(CRASH_VARIABLE):
        arm(environ[CRASH_VARIABLE])


def main(argv: Sequence[str] | None = None) -> int:
    environ = os.environ
    try:
        parser = build_parser(environ)
    except OptionError as exc:
        print(f"podium: {exc}", file=sys.stderr)
        return 2
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    _arm_crash_point(environ)
    if args.command in admin_commands.COMMANDS:
        return admin_commands.run(args)
    if args.command in CLIENT_COMMANDS:
        client = build_client_settings(vars(args))
        return client_commands.run(args, client, token_sources(client.token_file, environ))
    if args.command in log_commands.COMMANDS:
        return log_commands.run(args)
    if args.command in projection_commands.COMMANDS:
        return projection_commands.run(args)
    if args.command != "serve" and not args.amqp_url:
        parser.error(f"podium {args.command} needs --amqp-url (or PODIUM_AMQP_URL)")
    settings = build_settings(vars(args), base_env(environ))
    # The server's parts are imported only to serve: a client command starts in a fraction of
    # the time (the engine and its adapters take a second to import).
    from podium.adapters import ALL_ROLES, ConfigurationError, Role
    from podium.logs import configure_logging
    from podium.serve import serve

    configure_logging(settings.log_level)
    roles = ALL_ROLES if args.command == "serve" else frozenset({Role(args.command)})

    if settings.uvloop:
        try:
            import uvloop
        except ModuleNotFoundError:
            parser.error("--uvloop needs the uvloop package: pip install 'podium[uvloop]'")
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    try:
        asyncio.run(serve(settings, roles))
    except ConfigurationError as exc:
        print(f"podium {args.command}: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
