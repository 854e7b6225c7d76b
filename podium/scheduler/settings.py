"""The scheduler's settings: the part of the settings tree the scheduler role reads."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SchedulerSettings:
    max_inflight: int = 250
    max_dispatch: int = 500  # runs dispatched per step: each step's work is queued before the next
    lease_s: float = 15.0  # an executor silent this long is lost
    # How long an executor never heard from still counts as alive; None: a lease.
    startup_grace_s: float | None = None
    tick_s: float = 1.0  # how often leases are checked when nothing else happens
    retry_s: float = 1.0
    sync_timeout_s: float = 30.0  # to fold the log up to now, on taking the lead
    stop_repeat_s: float = 5.0  # stop notices of stopping jobs go out again this often
    snapshot_interval_s: float = 60.0
    snapshot_min_events: int = 10_000
    job_retention_days: float = 30.0  # ended jobs older than this are pruned (JobsPruned)
    prune_every_s: float = 3600.0  # how far the pruning horizon moves before it is moved again

    @property
    def job_retention_s(self) -> float:
        return self.job_retention_days * 86_400.0
