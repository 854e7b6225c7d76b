"""One frozen settings tree per process, built once by the CLI (from `podium.options`) and passed
down: each role gets its own part, declared by the role with its defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from podium.api.settings import ApiSettings, PuppetDbSettings
from podium.events.amqp.settings import AmqpSettings
from podium.events.work import WorkQueueSettings
from podium.executor.settings import ExecutorSettings
from podium.scheduler.settings import SchedulerSettings

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
    """Everything a podium process may run with: what the process itself needs, then one part
    per role. `amqp` None: the embedded adapters (one process, a file log); `puppetdb` None:
    query scopes are answered from the inventory."""

    data_dir: Path = Path("data")
    sources: SourcePaths = EXAMPLE
    code_refresh_s: float = 1.0  # environments and tasks read less than this ago are not re-read
    host: str = "127.0.0.1"  # where the api, or a role's health endpoints, listen
    status_port: int | None = None  # health endpoints of a role that serves no API
    fsync: bool = True  # the embedded log
    log_segment_bytes: int = 64 * 1024 * 1024  # the embedded log's segments (filelog)
    log_level: str = "info"
    max_batch: int = 5_000  # events per log append at most; 1 turns batching off (benchmarks)
    uvloop: bool = False  # run on uvloop (the `uvloop` extra) instead of asyncio's own loop
    work: WorkQueueSettings = field(default_factory=WorkQueueSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    puppetdb: PuppetDbSettings | None = None
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
    executor: ExecutorSettings = field(default_factory=ExecutorSettings)
    amqp: AmqpSettings | None = None
