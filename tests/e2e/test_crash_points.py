"""kill -9 at each step of the embedded log's segment writes: rolling a segment, saving a base
snapshot, deleting segments (between deletions, before the directory fsync), moving a
single-file log in, and a projection rebuild from a pruned log. A process is made to die at a
named point (`PODIUM_TEST_CRASH_AT`, `podium.events.crashpoints`: a real SIGKILL); after it the
log opens, holds every record it had acknowledged or was told to keep, and takes appends."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from podium.events.crashpoints import CRASH_VARIABLE
from podium.events.filelog import FileEventLog
from podium.events.model import JobReady
from podium.events.ports import Record
from podium.events.snapshots import decode_snapshot
from podium.history.rebuild import remove_projection
from podium.history.store import PROJECTION_FILE
from tests.conftest import DATA
from tests.e2e.cluster import Client
from tests.e2e.crash_writer import SEGMENT_BYTES
from tests.e2e.test_serve import client, connected, server_process, write_inventory
from tests.integration.test_log_pruning import answers, pruned_history, rebuild_process, running

KILLED = -signal.SIGKILL


def crashing(point: str, log: Path, action: str) -> tuple[int, list[int]]:
    """Run the writer until the point kills it; its exit code and the offsets it acknowledged."""
    result = subprocess.run(
        [sys.executable, "-m", "tests.e2e.crash_writer", point, str(log), action],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=DATA.parents[1],
    )
    return result.returncode, [int(line) for line in result.stdout.splitlines() if line.isdigit()]


async def contents(path: Path) -> dict[int, list[str]]:
    """Every record the log holds, by offset: the jobs its events name. The log is opened (and
    a torn tail cut), read, appended to, and read again."""
    log = await FileEventLog.open(path, segment_bytes=SEGMENT_BYTES)
    try:
        held = await _read(log)
        end = (await log.head()).offset
        await log.append([JobReady(at=1.0, job="after", origin="check", seq=1)])
        assert (await _read(log))[end] == ["after"]
        return held
    finally:
        await log.close()


async def _read(log: FileEventLog) -> dict[int, list[str]]:
    end = (await log.head()).offset
    held: dict[int, list[str]] = {}
    if end > log.first_offset:
        async for record in log.subscribe(log.first_offset):
            held[record.offset] = _jobs(record)
            if record.offset == end - 1:
                break
    return held


def _jobs(record: Record) -> list[str]:
    return [event.job for event in record.events if isinstance(event, JobReady)]


@pytest.mark.parametrize("point", ["roll-sealed", "roll-indexed", "roll-created", "roll-created:3"])
async def test_a_kill_while_rolling_a_segment_loses_no_acknowledged_record(
    tmp_path: Path, point: str
) -> None:
    log = tmp_path / "events.log"
    code, acknowledged = crashing(point, log, "append")
    assert code == KILLED
    assert acknowledged
    held = await contents(log)
    for offset in acknowledged:
        assert held[offset] == [str(offset + 1)]


async def submit_until_cut_off(api: Client) -> list[str]:
    """Jobs accepted (202) until the server dies."""
    accepted: list[str] = []
    try:
        for _ in range(500):
            accepted.append(await api.task(["f001", "f002"]))
    except aiohttp.ClientError:
        return accepted
    raise AssertionError("the server never reached its crash point")


async def write_segments(log: Path, records: int) -> list[tuple[int, int]]:
    opened = await FileEventLog.open(log, segment_bytes=SEGMENT_BYTES)
    for n in range(records):
        await opened.append([JobReady(at=1.0, job=str(n + 1), origin="w", seq=n + 1)])
    spans = opened.segments()
    await opened.close()
    return spans


@pytest.mark.parametrize(
    "point", ["delete-segment:1", "delete-segment:2", "delete-bases", "delete-before-fsync"]
)
async def test_a_kill_while_deleting_segments_keeps_every_record_from_the_new_start(
    tmp_path: Path, point: str
) -> None:
    log = tmp_path / "events.log"
    spans = await write_segments(log, 40)
    start = spans[3][0]
    before = await contents(log)
    code, _ = crashing(point, log, f"delete:{start}")
    assert code == KILLED
    after = await contents(log)
    first = min(after)
    assert first <= start
    assert {offset: jobs for offset, jobs in before.items() if offset >= first} == {
        offset: jobs for offset, jobs in after.items() if offset in before
    }


async def test_a_kill_after_a_base_is_saved_leaves_it_whole(tmp_path: Path) -> None:
    log = tmp_path / "events.log"
    await write_segments(log, 30)
    code, _ = crashing("base-written", log, "base")
    assert code == KILLED
    opened = await FileEventLog.open(log, segment_bytes=SEGMENT_BYTES)
    try:
        (base,) = opened.bases()
        assert base.job_count == 7
        snapshot = decode_snapshot(opened.read_base(base))
        assert snapshot.next_offset == (await opened.head()).offset == base.offset
        assert decode_snapshot((tmp_path / "snapshot.bin").read_bytes()) == snapshot
    finally:
        await opened.close()


async def test_a_kill_while_moving_a_single_file_log_in_loses_nothing(tmp_path: Path) -> None:
    log = tmp_path / "events.log"
    await write_segments(log, 3)
    (segment,) = sorted((tmp_path / "events.log.d").glob("*.seg"))
    log.write_bytes(segment.read_bytes()[48:])  # as written before segments
    for leftover in (tmp_path / "events.log.d").iterdir():
        leftover.unlink()
    code, _ = crashing("move-in", log, "open")
    assert code == KILLED
    assert log.is_file()  # the rename had not happened
    assert await contents(log) == {0: ["1"], 1: ["2"], 2: ["3"]}


async def test_a_kill_during_a_rebuild_from_a_pruned_log_loses_no_kept_job(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    _, new, kept = await pruned_history(data)
    remove_projection(data / PROJECTION_FILE)
    code, _, _ = await rebuild_process(data, crash_at="rebuild-folded:5")
    assert code == KILLED
    async with running(data) as (engine, api):
        assert engine.adapters.file_log is not None
        assert engine.adapters.file_log.first_offset > 0
        assert await answers(api, new) == kept


async def test_podium_serve_killed_while_rolling_a_segment_keeps_every_job_it_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inventory = write_inventory(tmp_path / "inventory.yaml")
    data = tmp_path / "data"
    with server_process(data, inventory, "--log-segment-bytes", "30000") as server:
        monkeypatch.setenv(CRASH_VARIABLE, "roll-created:2")
        async with client(server) as api:
            monkeypatch.delenv(CRASH_VARIABLE)
            accepted = await submit_until_cut_off(api)
        assert server.process is not None
        assert server.process.wait(timeout=60) == KILLED
        server.start()
        async with aiohttp.ClientSession() as session:
            await server.wait_ready(session)
            api = connected(session, server)
            assert len(accepted) > 5
            for name in accepted:
                assert (await api.get(f"/jobs/{name}"))["name"] == name
            assert await api.task(["f003"]) == str(int(accepted[-1]) + 1)
