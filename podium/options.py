"""The command line's options, in one table: each with its flag, its environment variable
(`PODIUM_<FLAG>`), its default, its help and the commands that take it.

A default is never written here: it is read from the settings part that declares it
(`ExecutorSettings.slots`, say), so a default exists once. The CLI builds its parsers from the
table, `build_settings` builds the settings tree from what was given, and README's flag tables
are generated from it (`markdown_table`; a test fails when they differ).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from podium.api.settings import ApiSettings, PuppetDbSettings
from podium.client.settings import FORMATS, ClientSettings
from podium.events.amqp.settings import AmqpSettings
from podium.events.work import WorkQueueSettings
from podium.executor.settings import ExecutorSettings
from podium.scheduler.settings import SchedulerSettings
from podium.settings import PUPPET_ENVIRONMENTS, Settings, SourcePaths

Command = Literal["serve", "api", "scheduler", "executor"]
COMMANDS: Final[tuple[Command, ...]] = ("serve", "api", "scheduler", "executor")
# Clients of a running server (podium.client): their options go to `ClientSettings`.
CLIENT_COMMANDS: Final = ("task", "job", "plan", "schedule", "events")
# The part of the settings tree each option goes to ("" is the process's own), and its class.
PARTS: Final[dict[str, type[Any]]] = {
    "": Settings,
    "sources": SourcePaths,
    "work": WorkQueueSettings,
    "api": ApiSettings,
    "puppetdb": PuppetDbSettings,
    "scheduler": SchedulerSettings,
    "executor": ExecutorSettings,
    "amqp": AmqpSettings,
    "client": ClientSettings,
}


class OptionError(ValueError):
    """Raised for a value an option cannot take; the message says why."""


def positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise OptionError(f"must be a positive integer, not {text}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise OptionError(f"must be a positive number, not {text}")
    return value


def non_negative_float(text: str) -> float:
    value = float(text)
    if value < 0:
        raise OptionError(f"must not be negative, not {text}")
    return value


def host_list(text: str) -> tuple[str, ...]:
    return tuple(host.strip().lower() for host in text.split(",") if host.strip())


def true_or_false(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise OptionError(f"expected true or false, not {text}")


def output_format(text: str) -> str:
    if text not in FORMATS:
        raise OptionError(f"must be one of {', '.join(FORMATS)}, not {text}")
    return text


ALL: Final = frozenset(COMMANDS)
CLIENTS: Final = frozenset(CLIENT_COMMANDS)
FORMATTED: Final = CLIENTS - {"events"}  # `events export` has its own --format
SERVES_API: Final = frozenset({"serve", "api"})
SCHEDULES: Final = frozenset({"serve", "scheduler"})
EXECUTES: Final = frozenset({"serve", "executor"})
LISTENS: Final = frozenset(COMMANDS)  # the api, or a role's health endpoints
READS_CODE: Final = frozenset({"serve", "api", "executor"})
TAKES_WORK: Final = frozenset({"serve", "scheduler", "executor"})
HEALTH_ONLY: Final = frozenset({"scheduler", "executor"})
EMBEDDED: Final = frozenset({"serve"})


@dataclass(frozen=True, slots=True)
class Option:
    flag: str
    part: str  # a key of PARTS
    name: str  # the field of that part it sets
    help: str
    commands: frozenset[str]
    parse: Callable[[str], Any] = str
    default_text: str = ""  # how the default reads when it is not one value (or there is none)

    @property
    def dest(self) -> str:
        return self.flag.removeprefix("--").replace("-", "_")

    @property
    def env(self) -> str:
        return "PODIUM_" + self.dest.upper()

    @property
    def boolean(self) -> bool:
        return self.parse is true_or_false

    @property
    def default(self) -> Any:
        """The default its settings part declares; None when it declares none."""
        for declared in dataclasses.fields(PARTS[self.part]):
            if declared.name == self.name:
                if declared.default is not dataclasses.MISSING:
                    return declared.default
                if declared.default_factory is not dataclasses.MISSING:
                    return declared.default_factory()
                return None
        raise LookupError(f"{self.flag}: {PARTS[self.part].__name__} has no {self.name}")

    def shown_default(self) -> str:
        """The default as help and README say it: `default_text`, else the value."""
        if self.default_text:
            return self.default_text
        value = self.default
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return "" if value is None else str(value)


OPTIONS: Final[tuple[Option, ...]] = (
    Option("--host", "", "host", "address to listen on", LISTENS),
    Option("--port", "api", "port", "port to listen on", SERVES_API, int),
    Option(
        "--status-port",
        "",
        "status_port",
        "serve /status/v1/simple and /status/v1/services on this port",
        HEALTH_ONLY,
        int,
        "none",
    ),
    Option(
        "--data-dir",
        "",
        "data_dir",
        "the embedded log (events.log.d/, its segments), its snapshot, admin.token and the "
        "api's projection.sqlite",
        SERVES_API,
        Path,
    ),
    Option(
        "--environments",
        "sources",
        "environments",
        "a directory of environments",
        READS_CODE,
        Path,
        f"the bundled example's; with --inventory, {PUPPET_ENVIRONMENTS}",
    ),
    Option(
        "--inventory",
        "sources",
        "inventory",
        "a Bolt inventory v2 file (the scheduler resolves plan steps' targets in it)",
        SERVES_API | SCHEDULES,
        Path,
        "the bundled example's",
    ),
    Option(
        "--node-groups",
        "sources",
        "node_groups",
        "classifier node groups",
        SERVES_API,
        Path,
        "the bundled example's; with --inventory, none (All Nodes alone)",
    ),
    Option(
        "--watch-s",
        "api",
        "watch_s",
        "how often the inventory and node-groups files are checked for changes; 0: never",
        SERVES_API,
        non_negative_float,
    ),
    Option(
        "--code-refresh-s",
        "",
        "code_refresh_s",
        "environments and tasks read less than this ago are used as read",
        READS_CODE,
        non_negative_float,
    ),
    Option(
        "--public-url",
        "api",
        "public_url",
        "base of the absolute URLs in answers",
        SERVES_API,
        str,
        "from the request",
    ),
    Option(
        "--allowed-hosts",
        "api",
        "allowed_hosts",
        "comma-separated Host headers trusted for those URLs (name or name:port)",
        SERVES_API,
        host_list,
        "none",
    ),
    Option(
        "--request-timeout-s",
        "api",
        "request_timeout_s",
        "a request whose head or body is not all there by then is cut off; also the idle "
        "keep-alive",
        LISTENS,
        positive_float,
    ),
    Option(
        "--submit-timeout-s",
        "api",
        "submit_timeout_s",
        "how long a command may wait to be recorded before a 503 (one sent to a broker that "
        "never confirmed it waits until the log shows whether it landed), and how far behind "
        "its own commands the api may fold before it refuses new ones (503, nothing recorded)",
        SERVES_API,
        positive_float,
    ),
    Option(
        "--puppetdb-url",
        "puppetdb",
        "url",
        "a PuppetDB that answers query and node_group scopes and holds the facts "
        "GET /inventory/<node> shows",
        SERVES_API,
        str,
        "none",
    ),
    Option(
        "--puppetdb-ca",
        "puppetdb",
        "ca",
        "the CA certificate PuppetDB's is signed by",
        SERVES_API,
        Path,
        "none",
    ),
    Option(
        "--puppetdb-cert",
        "puppetdb",
        "cert",
        "a client certificate for PuppetDB",
        SERVES_API,
        Path,
        "none",
    ),
    Option(
        "--puppetdb-key",
        "puppetdb",
        "key",
        "the private key of that certificate",
        SERVES_API,
        Path,
        "none",
    ),
    Option(
        "--puppetdb-timeout-s",
        "puppetdb",
        "timeout_s",
        "how long a PuppetDB query may take",
        SERVES_API,
        positive_float,
    ),
    Option(
        "--max-inflight",
        "scheduler",
        "max_inflight",
        "node runs dispatched at once, over all jobs",
        SCHEDULES,
        positive_int,
    ),
    Option(
        "--lease-s",
        "scheduler",
        "lease_s",
        "an executor silent this long is lost",
        SCHEDULES,
        positive_float,
    ),
    Option(
        "--job-retention-days",
        "scheduler",
        "job_retention_days",
        "ended jobs older than this are pruned, with their nodes and events",
        SCHEDULES,
        positive_float,
    ),
    Option(
        "--snapshot-interval-s",
        "scheduler",
        "snapshot_interval_s",
        "how often the state is snapshotted (for fast restarts)",
        SCHEDULES,
        positive_float,
    ),
    Option(
        "--snapshot-min-events",
        "scheduler",
        "snapshot_min_events",
        "events folded since the last snapshot before another is taken",
        SCHEDULES,
        positive_int,
    ),
    Option("--slots", "executor", "slots", "node runs at once", EXECUTES, positive_int),
    Option(
        "--heartbeat-s",
        "executor",
        "heartbeat_s",
        "how often an executor says it is alive",
        EXECUTES,
        positive_float,
    ),
    Option(
        "--shutdown-grace-s",
        "executor",
        "shutdown_grace_s",
        "how long SIGTERM lets runs finish",
        EXECUTES,
        non_negative_float,
    ),
    Option(
        "--max-output-bytes",
        "executor",
        "max_output_bytes",
        "a task's stdout kept per node (the rest is dropped, the result marked _truncated)",
        EXECUTES,
        positive_int,
    ),
    Option(
        "--work-batch",
        "work",
        "batch",
        "work items per delivery (an executor needs at least as many slots)",
        TAKES_WORK,
        positive_int,
    ),
    Option(
        "--amqp-url",
        "amqp",
        "url",
        "the RabbitMQ broker: needed by api, scheduler and executor; podium serve runs all "
        "roles on it instead of embedded",
        ALL,
        str,
        "none",
    ),
    Option(
        "--prefix",
        "amqp",
        "prefix",
        "prefix of every queue and exchange: installations can share a broker",
        ALL,
    ),
    Option("--log-max-age", "amqp", "log_max_age", "retention of the event stream", ALL),
    Option(
        "--log-max-bytes",
        "amqp",
        "log_max_bytes",
        "retention of the event stream, in bytes",
        ALL,
        positive_int,
    ),
    Option(
        "--fsync",
        "",
        "fsync",
        "fsync every append to the embedded log",
        EMBEDDED,
        true_or_false,
    ),
    Option(
        "--log-segment-bytes",
        "",
        "log_segment_bytes",
        "size at which the embedded log starts a new segment file (old segments are deleted "
        "once pruning and snapshots allow)",
        EMBEDDED,
        positive_int,
    ),
    Option(
        "--log-level",
        "",
        "log_level",
        "debug, info, warning or error: JSON lines on stderr (console output on a terminal)",
        ALL,
    ),
    Option(
        "--max-batch",
        "",
        "max_batch",
        "events per log append at most; 1 turns batching off (for benchmarks)",
        ALL,
        positive_int,
    ),
    Option(
        "--uvloop",
        "",
        "uvloop",
        "run on uvloop (the uvloop extra)",
        ALL,
        true_or_false,
    ),
    Option("--url", "client", "url", "the server", CLIENTS),
    Option(
        "--token-file",
        "client",
        "token_file",
        "a file holding the token; without it, PODIUM_TOKEN, else ~/.puppetlabs/token",
        CLIENTS,
        Path,
        "none",
    ),
    Option(
        "--format",
        "client",
        "format",
        "text (tables, a live progress bar) or json (for scripts)",
        FORMATTED,
        output_format,
    ),
)


def options_of(command: str) -> list[Option]:
    return [option for option in OPTIONS if command in option.commands]


def build_settings(
    given: Mapping[str, Any], base_env: tuple[tuple[str, str], ...] = ()
) -> Settings:
    """The settings tree from the values given, by option `dest` (flags left out are absent or
    None); `base_env` is what local runs start from."""
    by_part: dict[str, dict[str, Any]] = {part: {} for part in PARTS}
    for option in OPTIONS:
        value = given.get(option.dest)
        if value is not None:
            by_part[option.part][option.name] = value
    sources = by_part["sources"]
    executor = ExecutorSettings(**by_part["executor"], base_env=base_env)
    puppetdb = by_part["puppetdb"]
    amqp = by_part["amqp"]
    return Settings(
        **by_part[""],
        sources=SourcePaths.given(
            sources.get("inventory"), sources.get("node_groups"), sources.get("environments")
        ),
        work=WorkQueueSettings(**by_part["work"]),
        api=ApiSettings(**by_part["api"]),
        puppetdb=PuppetDbSettings(**puppetdb) if "url" in puppetdb else None,
        scheduler=SchedulerSettings(**by_part["scheduler"]),
        executor=executor,
        amqp=AmqpSettings(**amqp) if "url" in amqp else None,
    )


def build_client_settings(given: Mapping[str, Any]) -> ClientSettings:
    """A client command's settings from the values given, by option `dest`."""
    values = {
        option.name: given[option.dest]
        for option in OPTIONS
        if option.part == "client" and given.get(option.dest) is not None
    }
    return ClientSettings(**values)


def markdown_table(commands: tuple[str, ...]) -> str:
    """README's table of the options these commands take; with more than one command, a column
    says which takes each."""
    several = len(commands) > 1
    header = "| flag | environment | default |" + (" taken by |" if several else "") + " |"
    rows = [header, "| --- | --- | --- |" + (" --- |" if several else "") + " --- |"]
    for option in OPTIONS:
        taking = [command for command in commands if command in option.commands]
        if not taking:
            continue
        flag = f"`{option.flag}`" + (
            f", `--no-{option.dest.replace('_', '-')}`" if option.boolean else ""
        )
        default = option.shown_default()
        default = f"`{default}`" if default and not option.default_text else default or "none"
        cells = [flag, f"`{option.env}`", default]
        if several:
            cells.append(", ".join(taking))
        rows.append("| " + " | ".join([*cells, option.help]) + " |")
    return "\n".join(rows)
