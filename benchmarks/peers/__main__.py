"""`python -m benchmarks.peers [--tasks 200] [--fail-every 10]`: the peers' counting checked by
hand. Each peer's workers start as in figure 11 and take one small fan-out in which every K-th
task raises; the client exits non-zero unless both of its reads count exactly the tasks that
succeeded and failed. Not part of `make test`: it needs the `bench` extra and Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from benchmarks.peers.outcome import Peer
from benchmarks.peers.workers import peer_workers


async def check(peers: list[Peer], tasks: int, fail_every: int, directory: Path) -> None:
    for peer in peers:
        async with peer_workers(peer, directory / peer) as workers:
            outcome = await workers.fanout(tasks, fail_every)
        print(f"{peer}: {outcome.succeeded} succeeded, {outcome.failed} failed: counted right")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peers", description=__doc__)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--fail-every", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="podium-peers-") as work:
        asyncio.run(check(["celery", "dramatiq"], args.tasks, args.fail_every, Path(work)))


if __name__ == "__main__":
    main()
