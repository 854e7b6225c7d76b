"""One frozen settings object per process, built once by the CLI and passed down."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from podium.events.amqp.settings import AmqpSettings

EXAMPLES: Final = Path(__file__).resolve().parent / "examples"
# Where Puppet keeps its environments (its `environmentpath`): the code an orchestrator runs.
PUPPET_ENVIRONMENTS: Final = Path("/etc/puppetlabs/code/environments")


@dataclass(frozen=True, slots=True)
class SourcePaths:
    """Where the inventory, the node groups and the environments are read from."""

    inventory: Path
    node_groups: Path | None  # None: only All Nodes
    environments: Path

    @classmethod
    def given(
        cls, inventory: Path | None, node_groups: Path | None, environments: Path | None
    ) -> SourcePaths:
        """The bundled example is one whole, the default only when no inventory is given.
        With an inventory of one's own, node groups are only those of a file given (else All
        Nodes alone), and environments default to Puppet's: the example's are made for its
        own nodes (its deploys run a stand-in agent that reports runs that never happened)."""
        if inventory is None:
            return cls(
                EXAMPLE.inventory,
                node_groups or EXAMPLE.node_groups,
                environments or EXAMPLE.environments,
            )
        return cls(inventory, node_groups, environments or PUPPET_ENVIRONMENTS)


EXAMPLE: Final = SourcePaths(
    EXAMPLES / "inventory.yaml", EXAMPLES / "node_groups.yaml", EXAMPLES / "environments"
)


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a podium process may run; each role reads the part it needs."""

    host: str = "127.0.0.1"
    port: int = 8143
    data_dir: Path = Path("data")
    environments: Path = EXAMPLE.environments
    inventory: Path = EXAMPLE.inventory
    node_groups: Path | None = EXAMPLE.node_groups  # None: only All Nodes
    watch_s: float = 2.0  # how often the inventory and node-groups files are checked; 0: never
    puppetdb_url: str | None = None  # query scopes go to this PuppetDB instead of the inventory
    puppetdb_cert: Path | None = None
    puppetdb_key: Path | None = None
    puppetdb_ca: Path | None = None
    puppetdb_timeout_s: float = 10.0
    executor_slots: int = 64
    max_inflight: int = 250
    public_url: str | None = None
    allowed_hosts: tuple[str, ...] = ()  # Host headers trusted for links without --public-url
    request_timeout_s: float = 30.0  # a request's head or body not all there by then: cut off
    fsync: bool = True
    shutdown_grace_s: float = 30.0
    log_level: str = "info"
    amqp: AmqpSettings | None = None  # None: the embedded adapters (one process, a file log)
    lease_s: float = 15.0
    heartbeat_s: float = 3.0
    snapshot_interval_s: float = 60.0
    snapshot_min_events: int = 10_000
    submit_timeout_s: float = 10.0
    code_refresh_s: float = 1.0  # environments and tasks read less than this ago are not re-read
    status_port: int | None = None  # health endpoints of a role that serves no API
    max_output_bytes: int = 1024 * 1024  # a task's stdout kept per node; the rest is dropped
    base_env: tuple[tuple[str, str], ...] = ()  # the environment local runs start from
    max_batch: int = 5_000  # events per log append at most; 1 turns batching off (benchmarks)
    uvloop: bool = False  # run on uvloop (the `uvloop` extra) instead of asyncio's own loop
