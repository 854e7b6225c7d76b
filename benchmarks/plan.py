"""How big each figure is: the full run of `make bench`, and the reduced one of
`make bench-quick`."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Plan:
    name: str
    reps: int = 3
    wrk_s: float = 3.0  # each HTTP load run
    connections: int = 32
    http_variants: bool = True  # figure 1 also with uvloop and with fsync off (closed loop)
    open_rate: float = 1_000.0  # figure 1, open loop: requests offered per second
    open_s: float = 15.0  # measured, after the warm-up
    open_warmup_s: float = 3.0
    fleet_nodes: int = 10_000  # figures 2 and 4
    max_inflight: int = 10_000
    jobs: int = 2_000  # figure 3
    job_nodes: int = 5
    clients: int = 32
    stops_per_rep: int = 2  # figure 4
    delivery_nodes: int = 300  # figure 5
    delivery_spread_ms: int = 2_000
    cold_events: int = 1_000_000  # figure 6
    history_events: tuple[int, ...] = (1_000_000, 5_000_000, 25_000_000)  # figure 10
    history_fold_max: int = 5_000_000  # longer logs are not folded into memory alone
    scale_nodes: int = 1_500  # figure 7
    scale_latency_ms: int = 50
    scale_slots: int = 64
    scale_executors: tuple[int, ...] = (1, 2, 4)
    unbatched_nodes: int = 1_000  # figure 8 (one event per message is slow)
    schedules: int = 10_000  # figure 9
    profile: bool = True
    profile_s: float = 6.0


FULL = Plan("full")
QUICK = replace(
    FULL,
    name="quick",
    wrk_s=1.0,
    http_variants=False,
    open_s=10.0,
    fleet_nodes=1_000,
    jobs=200,
    stops_per_rep=1,
    delivery_nodes=60,
    delivery_spread_ms=600,
    cold_events=100_000,
    history_events=(100_000, 300_000),
    scale_nodes=300,
    scale_executors=(1, 2),
    unbatched_nodes=300,
    schedules=1_000,
    profile=False,
)


@dataclass(frozen=True, slots=True)
class Bench:
    """Where a run works, how big it is, and how it was invoked (for the report)."""

    plan: Plan
    work: Path
    invocation: str
