"""The `podium` command line. Every flag can also be given as `PODIUM_<FLAG>` in the environment;
this module is the only place that reads the environment."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from podium.logs import configure_logging
from podium.settings import ServeSettings


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text}")
    return value


def _flag(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not {text}")


def _option(
    parser: argparse.ArgumentParser,
    flag: str,
    convert: Callable[[str], Any],
    default: Any,
    help_text: str,
) -> None:
    """A flag whose default comes from PODIUM_<FLAG>, then from `default`."""
    env_name = "PODIUM_" + flag.lstrip("-").replace("-", "_").upper()
    raw = os.environ.get(env_name)
    value = convert(raw) if raw is not None else default
    parser.add_argument(
        flag, type=convert, default=value, help=f"{help_text} (env {env_name}; default {default})"
    )


def _serve_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    defaults = ServeSettings()
    serve = commands.add_parser("serve", help="api, scheduler and executor in one process")
    _option(serve, "--host", str, defaults.host, "address to listen on")
    _option(serve, "--port", int, defaults.port, "port to listen on")
    _option(serve, "--data-dir", Path, defaults.data_dir, "holds the log and the admin token")
    _option(serve, "--environments", Path, defaults.environments, "directory of environments")
    _option(serve, "--inventory", Path, defaults.inventory, "inventory v2 YAML file")
    _option(serve, "--executor-slots", _positive_int, defaults.executor_slots, "runs at once")
    _option(serve, "--max-inflight", _positive_int, defaults.max_inflight, "runs in flight")
    _option(serve, "--public-url", str, defaults.public_url, "base of absolute URLs")
    _option(serve, "--fsync", _flag, defaults.fsync, "fsync every log append")
    _option(serve, "--shutdown-grace-s", float, defaults.shutdown_grace_s, "run drain time")
    _option(serve, "--log-level", str, defaults.log_level, "debug, info, warning or error")


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="podium", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    _serve_parser(commands)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    configure_logging(args.log_level)
    if args.command == "serve":
        from podium.serve import serve

        settings = ServeSettings(
            host=args.host,
            port=args.port,
            data_dir=args.data_dir,
            environments=args.environments,
            inventory=args.inventory,
            executor_slots=args.executor_slots,
            max_inflight=args.max_inflight,
            public_url=args.public_url,
            fsync=args.fsync,
            shutdown_grace_s=args.shutdown_grace_s,
            log_level=args.log_level,
        )
        asyncio.run(serve(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
