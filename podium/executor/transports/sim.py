"""The `sim` transport: simulated nodes for demos, tests and benchmarks.

Settings come from the target's `config.sim` like any transport's: `latency-ms` (a number, or
`[low, high]` for a uniform range), `failure-rate`, `error-rate` and `seed`. Every draw comes from
a generator seeded with (seed, job, node), so a run is reproducible.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import uuid
import zlib
from dataclasses import dataclass
from typing import Final

from podium.events.endings import Outcome, errored, failed, finished
from podium.events.work import WorkItem
from podium.executor.transports.base import RunError
from podium.jsontypes import Json

_KEPT_SETTINGS: Final = 1024


@dataclass(frozen=True, slots=True)
class SimSettings:
    latency_ms: tuple[float, float] = (0.0, 0.0)
    failure_rate: float = 0.0
    error_rate: float = 0.0
    seed: int = 0


def sim_settings(config: dict[str, Json]) -> SimSettings:
    """Raises RunError naming the bad setting."""
    latency = config.get("latency-ms", 0)
    if isinstance(latency, list) and len(latency) == 2:
        low, high = latency
    else:
        low = high = latency
    if not all(
        isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in (low, high)
    ):
        raise RunError(f"sim: latency-ms must be a number or [low, high], not {latency!r}")
    rates = [config.get(key, 0) for key in ("failure-rate", "error-rate")]
    if not all(isinstance(r, int | float) and 0 <= r <= 1 for r in rates) or sum(rates) > 1:
        raise RunError("sim: failure-rate and error-rate must be in [0, 1] and add up to at most 1")
    seed = config.get("seed", 0)
    if not isinstance(seed, int):
        raise RunError(f"sim: seed must be an integer, not {seed!r}")
    return SimSettings((float(min(low, high)), float(max(low, high))), rates[0], rates[1], seed)


def simulate(item: WorkItem, settings: SimSettings) -> tuple[float, Outcome]:
    """The latency in seconds and the outcome of one simulated run: pure and reproducible."""
    low, high = settings.latency_ms
    draws = low != high or settings.error_rate or settings.failure_rate
    if not draws and item.spec.kind == "task":  # nothing to draw: skip seeding a generator
        return low / 1000.0, _task(item, fails=False)
    # Seeded from a stable hash (not hash(), which differs between processes), as an int: a
    # string seed costs a SHA-512 per run.
    rng = random.Random(zlib.crc32(f"{item.job}/{item.node}".encode()) * 65_537 + settings.seed)
    latency_s = (low if low == high else rng.uniform(low, high)) / 1000.0
    draw = rng.random()
    if draw < settings.error_rate:
        return latency_s, errored(item.node, f"Simulated connection failure to {item.node}")
    fails = draw < settings.error_rate + settings.failure_rate
    if item.spec.kind == "deploy":
        return latency_s, _deploy(item, rng, fails)
    return latency_s, _task(item, fails)


def _task(item: WorkItem, fails: bool) -> Outcome:
    task, node = item.spec.task, item.node
    if fails:
        error = {
            "kind": "puppetlabs.tasks/task-error",
            "msg": "The task errored with a code 1",
            "details": {"exitcode": 1},
        }
        return failed({"_error": error}, f"Failed task run on {node}: {task}")
    output = {"_output": f"{task} ran on {node} (simulated)\n"}
    return finished(output, f"Finished task run on {node}")


def _deploy(item: WorkItem, rng: random.Random, fails: bool) -> Outcome:
    spec, node = item.spec, item.node
    digest = hashlib.sha1(f"{item.job}/{node}".encode()).hexdigest()
    changed = 0 if spec.noop else rng.randrange(0, 4)
    pending = int(digest[:2], 16) % 4 if spec.noop else 0  # what a noop run would change
    total = 50 + rng.randrange(0, 200)
    failures = 1 + rng.randrange(0, 3) if fails else 0
    status = "failed" if fails else ("changed" if changed else "unchanged")
    report = {
        "hash": digest,
        "noop": {"noop": spec.noop, "no_noop": spec.no_noop},
        "noop_pending": pending > 0,
        "transaction_uuid": str(uuid.UUID(digest[:32])),
        "status": status,
        "metrics": {
            "total": total,
            "changed": changed,
            "failed": failures,
            "skipped": 0,
            "restarted": 0,
            "failed_to_restart": 0,
            "scheduled": 0,
            "out_of_sync": changed + pending + failures,
            "corrective_change": 0,
        },
        "environment": spec.environment or "production",
        "configuration_version": str(1_700_000_000 + rng.randrange(0, 1_000_000)),
    }
    if fails:
        return failed(report, f"Puppet run failed on {node}")
    return finished(report, f"Finished puppet run on {node} - {status}")


class SimTransport:
    def __init__(self) -> None:
        # The runs of a job share one config object: read its settings once. The object is
        # kept beside its settings, so its id cannot be reused while the entry lives.
        self._settings: dict[int, tuple[dict[str, Json], SimSettings]] = {}

    def settings_for(self, config: dict[str, Json]) -> SimSettings:
        """Raises RunError."""
        kept = self._settings.get(id(config))
        if kept is not None and kept[0] is config:
            return kept[1]
        settings = sim_settings(config)
        if len(self._settings) >= _KEPT_SETTINGS:
            self._settings.clear()
        self._settings[id(config)] = (config, settings)
        return settings

    async def run(self, item: WorkItem) -> Outcome:
        latency_s, outcome = simulate(item, self.settings_for(item.config))
        if latency_s > 0:
            await asyncio.sleep(latency_s)
        return outcome

    async def close(self) -> None:
        return None
