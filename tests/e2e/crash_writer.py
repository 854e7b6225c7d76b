"""A process that writes to an embedded log until a crash point kills it (SIGKILL):
`python -m tests.e2e.crash_writer POINT LOG ACTION`, ACTION one of `append` (one-event records,
fsynced, each offset printed once its append returned), `delete:OFFSET` (delete the segments
before OFFSET), `base` (save a snapshot of the log's end that becomes a base), `open`."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from podium.events.crashpoints import arm
from podium.events.filelog import FileEventLog
from podium.events.model import JobReady
from podium.events.snapshots import FileSnapshots, Snapshot
from podium.events.state import State

SEGMENT_BYTES = 600


async def act(path: Path, action: str) -> None:
    log = await FileEventLog.open(path, segment_bytes=SEGMENT_BYTES)
    if action == "append":
        offset = (await log.head()).offset
        while True:
            await log.append([JobReady(at=1.0, job=str(offset + 1), origin="w", seq=offset + 1)])
            print(offset, flush=True)
            offset += 1
    elif action.startswith("delete:"):
        await log.delete_before(int(action.split(":")[1]))
    elif action == "base":
        end = (await log.head()).offset
        snapshot = Snapshot(end, State(job_count=7), log.chain_hash())
        await FileSnapshots(path.parent / "snapshot.bin", log).save(snapshot)
    await log.close()


def main() -> None:
    point, path, action = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    arm(point)
    asyncio.run(act(path, action))


if __name__ == "__main__":
    main()
