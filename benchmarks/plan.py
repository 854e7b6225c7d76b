"""How big each figure is: the full run of `make bench`, and the reduced one of
`make bench-quick`."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from benchmarks.fleet import JobRun


@dataclass(frozen=True, slots=True)
class Plan:
    name: str
    reps: int = 3
    wrk_s: float = 4.0  # each HTTP load run
    connections: int = 32
    fleet_nodes: int = 10_000  # figures 2, 4 and 8
    max_inflight: int = 10_000
    jobs: int = 2_000  # figure 3
    job_nodes: int = 5
    clients: int = 32
    stops_per_rep: int = 5  # figure 4
    delivery_nodes: int = 300  # figure 5
    delivery_spread_ms: int = 3_000
    cold_events: int = 1_000_000  # figure 6
    scale_nodes: int = 4_000  # figure 7
    scale_latency_ms: int = 50
    scale_slots: int = 64
    scale_executors: tuple[int, ...] = (1, 2, 4)
    profile_s: float = 6.0


FULL = Plan("full")
QUICK = replace(
    FULL,
    name="quick",
    wrk_s=2.0,
    fleet_nodes=2_000,
    jobs=300,
    stops_per_rep=2,
    delivery_nodes=100,
    delivery_spread_ms=1_000,
    cold_events=100_000,
    scale_nodes=1_000,
    profile_s=3.0,
)


@dataclass(frozen=True, slots=True)
class Bench:
    """Where a run works, how big it is, and how it was invoked (for the report)."""

    plan: Plan
    work: Path
    invocation: str
    memo: dict[str, list[JobRun]] = field(default_factory=dict)  # figure 2's runs, for 8
