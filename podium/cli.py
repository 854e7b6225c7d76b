"""The `podium` command line. Every flag can also be given as `PODIUM_<FLAG>` in the environment;
this module is the only place that reads the environment, and it passes on to local runs only
the few variables `base_env` allows (never PODIUM_AMQP_URL and its credentials).

  podium serve       api, scheduler and executor in one process (embedded, or on RabbitMQ)
  podium api         the HTTP API, on RabbitMQ (any number of replicas)
  podium scheduler   job lifecycle, on RabbitMQ (one active, the others on standby)
  podium executor    node runs, on RabbitMQ (any number)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from podium.engine import ALL_ROLES, ConfigurationError, Role
from podium.events.amqp.settings import AmqpSettings
from podium.executor.transports.local import base_env
from podium.logs import configure_logging
from podium.settings import PUPPET_ENVIRONMENTS, Settings, SourcePaths

DEFAULTS = Settings()
AMQP_DEFAULTS = AmqpSettings()


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text}")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, not {text}")
    return value


def _host_list(text: str) -> tuple[str, ...]:
    return tuple(host.strip().lower() for host in text.split(",") if host.strip())


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


def _http_options(parser: argparse.ArgumentParser) -> None:
    _option(parser, "--host", str, DEFAULTS.host, "address to listen on")
    _option(parser, "--port", int, DEFAULTS.port, "port to listen on")
    _option(parser, "--data-dir", Path, DEFAULTS.data_dir, "holds the log and the admin token")
    _option(
        parser,
        "--inventory",
        Path,
        None,
        "inventory v2 YAML file; without it, the bundled example with its node groups and "
        "environments",
    )
    _option(
        parser,
        "--node-groups",
        Path,
        None,
        "classifier node groups file; without it, All Nodes alone (with --inventory) or the "
        "bundled example's",
    )
    _option(
        parser,
        "--watch-s",
        _non_negative_float,
        DEFAULTS.watch_s,
        "how often the inventory and node-groups files are checked for changes; 0: never",
    )
    _option(parser, "--public-url", str, DEFAULTS.public_url, "base of absolute URLs")
    _option(
        parser,
        "--allowed-hosts",
        _host_list,
        DEFAULTS.allowed_hosts,
        "comma-separated Host headers trusted for links without --public-url",
    )
    _option(
        parser,
        "--request-timeout-s",
        _positive_float,
        DEFAULTS.request_timeout_s,
        "a request whose headers or body are not all there by then is cut off",
    )
    _puppetdb_options(parser)
    _option(
        parser,
        "--submit-timeout-s",
        _positive_float,
        DEFAULTS.submit_timeout_s,
        "how long a command may wait for the log before a 503",
    )


def _puppetdb_options(parser: argparse.ArgumentParser) -> None:
    _option(parser, "--puppetdb-url", str, None, "PuppetDB that answers query scopes")
    _option(parser, "--puppetdb-cert", Path, None, "client certificate for PuppetDB")
    _option(parser, "--puppetdb-key", Path, None, "private key of that certificate")
    _option(parser, "--puppetdb-ca", Path, None, "CA certificate to trust for PuppetDB")
    _option(
        parser,
        "--puppetdb-timeout-s",
        _positive_float,
        DEFAULTS.puppetdb_timeout_s,
        "how long a PuppetDB query may take",
    )


def _scheduler_options(parser: argparse.ArgumentParser) -> None:
    _option(parser, "--max-inflight", _positive_int, DEFAULTS.max_inflight, "runs in flight")
    _option(
        parser,
        "--lease-s",
        _positive_float,
        DEFAULTS.lease_s,
        "an executor silent this long is lost",
    )
    _option(
        parser,
        "--snapshot-interval-s",
        _positive_float,
        DEFAULTS.snapshot_interval_s,
        "how often the state is snapshotted",
    )
    _option(
        parser,
        "--snapshot-min-events",
        _positive_int,
        DEFAULTS.snapshot_min_events,
        "events since the last snapshot before another is taken",
    )


def _executor_options(parser: argparse.ArgumentParser, slots_flag: str) -> None:
    _option(parser, slots_flag, _positive_int, DEFAULTS.executor_slots, "node runs at once")
    _option(
        parser,
        "--heartbeat-s",
        _positive_float,
        DEFAULTS.heartbeat_s,
        "how often an executor says it is alive",
    )
    _option(parser, "--shutdown-grace-s", float, DEFAULTS.shutdown_grace_s, "run drain time")
    _option(
        parser,
        "--max-output-bytes",
        _positive_int,
        DEFAULTS.max_output_bytes,
        "a task's stdout kept per node (the rest is dropped, the result marked _truncated)",
    )


def _amqp_options(parser: argparse.ArgumentParser, required: bool) -> None:
    _option(
        parser,
        "--amqp-url",
        str,
        None,
        "RabbitMQ URL" + (" (required)" if required else "; without it, embedded"),
    )
    _option(parser, "--prefix", str, AMQP_DEFAULTS.prefix, "prefix of every queue and exchange")
    _option(parser, "--log-max-age", str, AMQP_DEFAULTS.log_max_age, "event stream retention")
    _option(
        parser,
        "--log-max-bytes",
        _positive_int,
        AMQP_DEFAULTS.log_max_bytes,
        "event stream retention in bytes",
    )
    _option(
        parser,
        "--work-batch",
        _positive_int,
        AMQP_DEFAULTS.work_batch,
        "work items per message (executors need at least as many slots)",
    )


def _status_options(parser: argparse.ArgumentParser) -> None:
    _option(parser, "--host", str, DEFAULTS.host, "address of the status endpoints")
    _option(
        parser,
        "--status-port",
        int,
        None,
        "serve /status/v1/simple and /status/v1/services on this port",
    )


def _common_options(parser: argparse.ArgumentParser) -> None:
    _option(
        parser,
        "--code-refresh-s",
        float,
        DEFAULTS.code_refresh_s,
        "how long environments and tasks are used as read before looking again",
    )
    _option(
        parser,
        "--environments",
        Path,
        None,
        f"directory of environments; without it, {PUPPET_ENVIRONMENTS} with --inventory, "
        "else the bundled example's",
    )
    _option(parser, "--fsync", _flag, DEFAULTS.fsync, "fsync every log append (embedded)")
    _option(parser, "--log-level", str, DEFAULTS.log_level, "debug, info, warning or error")
    _option(
        parser,
        "--max-batch",
        _positive_int,
        DEFAULTS.max_batch,
        "events per log append at most; 1 turns batching off (for benchmarks)",
    )
    _option(parser, "--uvloop", _flag, DEFAULTS.uvloop, "run on uvloop (the `uvloop` extra)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="podium", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="all roles in one process")
    for add in (_http_options, _scheduler_options, _common_options):
        add(serve)
    _executor_options(serve, "--executor-slots")
    _amqp_options(serve, required=False)
    api = commands.add_parser("api", help="the HTTP API (RabbitMQ)")
    for add in (_http_options, _common_options):
        add(api)
    _amqp_options(api, required=True)
    scheduler = commands.add_parser("scheduler", help="job lifecycle (RabbitMQ)")
    for add in (_scheduler_options, _common_options, _status_options):
        add(scheduler)
    _amqp_options(scheduler, required=True)
    executor = commands.add_parser("executor", help="node runs (RabbitMQ)")
    _common_options(executor)
    _status_options(executor)
    _executor_options(executor, "--slots")
    _amqp_options(executor, required=True)
    return parser


ROLES = {
    "serve": ALL_ROLES,
    "api": frozenset({Role.API}),
    "scheduler": frozenset({Role.SCHEDULER}),
    "executor": frozenset({Role.EXECUTOR}),
}


def settings_from(args: argparse.Namespace, environ: Mapping[str, str]) -> Settings:
    """The settings the flags give; `environ` supplies what local runs may see of it."""
    amqp = None
    if args.amqp_url:
        amqp = AmqpSettings(
            url=args.amqp_url,
            prefix=args.prefix,
            log_max_age=args.log_max_age,
            log_max_bytes=args.log_max_bytes,
            work_batch=args.work_batch,
        )
    given = {
        key: value
        for key, value in vars(args).items()
        if key in Settings.__dataclass_fields__ and value is not None
    }
    if "slots" in vars(args):
        given["executor_slots"] = args.slots
    if "inventory" in vars(args):  # the roles that read an inventory
        sources = SourcePaths.given(args.inventory, args.node_groups, args.environments)
        given.update(
            inventory=sources.inventory,
            node_groups=sources.node_groups,
            environments=sources.environments,
        )
    return Settings(**{**given, "amqp": amqp, "base_env": base_env(environ)})


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.command != "serve" and not args.amqp_url:
        parser.error(f"podium {args.command} needs --amqp-url (or PODIUM_AMQP_URL)")
    configure_logging(args.log_level)
    from podium.serve import serve

    settings = settings_from(args, os.environ)
    if settings.uvloop:
        try:
            import uvloop
        except ModuleNotFoundError:
            parser.error("--uvloop needs the uvloop package: pip install 'podium[uvloop]'")
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    try:
        asyncio.run(serve(settings, ROLES[args.command]))
    except ConfigurationError as exc:
        print(f"podium {args.command}: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
