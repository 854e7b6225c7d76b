"""Figure 10's serving run: `python -m benchmarks.history_serve DIR N` starts `podium serve` on
DIR/data (the log `benchmarks.history_log` wrote for N events, and its projection), runs one task
job over `LIVE_NODES` sim nodes, and while it runs times reads of old jobs over real HTTP:
`GET /jobs/<id>`, `GET /jobs?limit=50&offset=N` far in, `GET /jobs/<id>/events?start=N` with
N the job's last `TAIL_IDS` event ids (a client following a job asks for what came after the
last event it saw), and with N in the middle of the job (half of its events, thousands for the
biggest jobs). Kinds are taken in turn, old jobs spread over the first half of the history.

It prints one JSON line: seconds from starting the process to its "Podium is serving", the
process's resident memory there (peak so far, file log's open included, and now), its peak
while the job ran and the reads were taken (the peak is reset once it serves), p50 and p99 of
each read in milliseconds, the read window's seconds, and the live job's state and node runs
ended before and after the window; then, the live job stopped and ended, the same reads with
nothing running (`idle_...`). The history is kept whole: `--job-retention-days 3650`.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Final

import aiohttp
import msgspec

from benchmarks import rss
from benchmarks.history_log import Planned, layout
from benchmarks.procs import Client, embedded, node_names, write_inventory
from benchmarks.stats import percentile

LIVE_NODES: Final = 10_000
LIVE_GROUP: Final = "live"
LATENCY_MS: Final = 1_000  # each live node run takes a second
SLOTS: Final = 250  # runs at once: 250 runs/s, the live job takes about 40 s
READS: Final = 200  # of each kind (MIDDLE: fewer, each answer is thousands of events)
MIDDLE_READS: Final = 50
TAIL_IDS: Final = 150
_ENDED: Final = ("finished", "failed", "stopped")


class _Timed:
    """GETs timed from sending the request to the answer's last byte (decoding the JSON is
    the client's work, outside the time)."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.ms: dict[str, list[float]] = {}
        self.items: dict[str, list[int]] = {}

    async def get(self, kind: str, path: str) -> None:
        client = self.client
        started = time.perf_counter()
        async with client.session.get(f"{client.url}{path}", headers=client.headers) as r:
            body = await r.read()
        self.ms.setdefault(kind, []).append((time.perf_counter() - started) * 1000)
        if r.status != 200:
            raise RuntimeError(f"GET {path}: {r.status} {body[:500]!r}")
        items = msgspec.json.decode(body).get("items")
        if isinstance(items, list):
            self.items.setdefault(kind, []).append(len(items))


async def _progress(client: Client, name: str) -> tuple[str, int]:
    """The live job's state and its node runs that have ended."""
    job = await client.get(f"/jobs/{name}")
    states = job.get("node_states") or {}
    assert isinstance(states, dict)
    ended = sum(int(n) for s, n in states.items() if s in ("finished", "failed", "skipped"))
    return str(job["state"]), ended


async def _reads(timed: _Timed, old: list[Planned], jobs: int) -> None:
    for index in range(READS):
        job = old[(index * 7919) % len(old)]
        await timed.get("job", f"/jobs/{job.name}")
        offset = (index * 104_729) % max(jobs - 50, 1)
        await timed.get("page", f"/jobs?limit=50&offset={offset}")
        await timed.get("events", f"/jobs/{job.name}/events?start={job.last - TAIL_IDS + 1}")
        if index % (READS // MIDDLE_READS) == 0:
            middle = job.first + (job.last - job.first) // 2
            await timed.get("middle", f"/jobs/{job.name}/events?start={middle}")


async def measure(directory: Path, events: int) -> dict[str, object]:
    planned = layout(events)
    old = planned[: len(planned) // 2]
    inventory = write_inventory(
        directory / "inventory.yaml", {LIVE_GROUP: (LIVE_NODES, f"{{latency-ms: {LATENCY_MS}}}")}
    )
    flags: dict[str, object] = {
        "job_retention_days": 3650,
        "max_inflight": LIVE_NODES,
        "slots": SLOTS,
    }
    (directory / "serve.log").unlink(missing_ok=True)  # a phrase of an earlier run would match
    started, spawned = time.perf_counter(), time.time()
    async with embedded(directory, inventory, **flags) as podium:
        result: dict[str, object] = {"serving_s": time.perf_counter() - started}
        result |= _phases(podium.api.text(), spawned)
        pid = podium.api.pid
        result |= {"serving_peak_mb": rss.peak_mb(pid), "serving_mb": rss.now_mb(pid)}
        result["folded_at_start"] = _folded_at_start(podium.api.text())
        rss.reset_peak(pid)
        async with aiohttp.ClientSession() as session:
            client = Client(session, podium)
            live = await client.task(node_names(LIVE_GROUP, LIVE_NODES))
            while (await _progress(client, live))[0] not in ("running", *_ENDED):
                await asyncio.sleep(0.05)
            before = await _progress(client, live)
            timed = _Timed(client)
            window = time.perf_counter()
            await _reads(timed, old, len(planned))
            result["window_s"] = time.perf_counter() - window
            after = await _progress(client, live)
            result |= {
                "live_state_before": before[0],
                "live_ended_before": before[1],
                "live_state_after": after[0],
                "live_ended_after": after[1],
                "live_nodes": LIVE_NODES,
                "serve_peak_mb": rss.peak_mb(pid),
                "serve_end_mb": rss.now_mb(pid),
                "command": podium.commands[0],
            }
            if after[0] not in _ENDED:
                await client.stop(live)
                await client.wait_job(live, timeout_s=300, poll_s=0.2)
            idle = _Timed(client)  # the same reads, nothing running: what the live job costs
            await _reads(idle, old, len(planned))
    return result | _summary(timed, "") | _summary(idle, "idle_")


def _summary(timed: _Timed, prefix: str) -> dict[str, object]:
    result: dict[str, object] = {}
    for kind, values in timed.ms.items():
        result[f"{prefix}{kind}_p50_ms"] = percentile(values, 0.5)
        result[f"{prefix}{kind}_p99_ms"] = percentile(values, 0.99)
        result[f"{prefix}{kind}_n"] = len(values)
    for kind, counts in timed.items.items():
        result[f"{prefix}{kind}_items"] = sum(counts) / len(counts)
    return result


_PHASES: Final = {
    "starting from the projection": "to_projection_s",  # interpreter, imports, log open
    "log folded": "to_folded_s",  # the tail folded
    "podium is serving": "to_serving_line_s",  # token, inventory, roles started
}


def _phases(text: str, spawned: float) -> dict[str, float]:
    """Seconds from spawning the process to each phase's log line (its own clock, this
    machine's)."""
    found: dict[str, float] = {}
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        entry = json.loads(line)
        key = _PHASES.get(entry.get("event", ""))
        if key is not None and key not in found:
            at = datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00")).timestamp()
            found[key] = at - spawned
    return found


def _folded_at_start(text: str) -> int:
    """Events the process folded before serving (its 'log folded' line)."""
    for line in text.splitlines():
        if '"log folded"' in line:
            return int(json.loads(line).get("folded", -1))
    return -1


def main() -> None:
    directory, events = Path(sys.argv[1]), int(sys.argv[2])
    print(json.dumps(asyncio.run(measure(directory, events))))


if __name__ == "__main__":
    main()
