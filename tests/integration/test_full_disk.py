"""A full disk, for real: a small tmpfs, filled. An append that fails is rolled back, the log
says it is failing until it can write again, and the producer never sends again a batch whose
caller was told it was not recorded."""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from podium.events.filelog import FileEventLog
from podium.events.model import Event, JobReady
from podium.events.ports import LogUnavailable
from podium.events.producer import Producer
from podium.events.segments import segment_name, segments_dir
from tests.integration.test_filelog import V1_LOG, jobs, read_all


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs of our own (mounting needs root: the test machine's user)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root: run the tests as root (as CI does)")
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], check=True)
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=True)


def fill(disk: Path) -> Path:
    """Take every free byte of the disk with one file; removing it gives the space back."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with pytest.raises(OSError, match="No space left on device") as full:  # noqa: PT012
            while True:
                os.write(fd, b"\xff" * 4096)
    finally:
        os.close(fd)
    assert full.value.errno == errno.ENOSPC
    return filler


def ready(n: int) -> JobReady:
    return JobReady(at=1.0, job=str(n), origin="t", seq=n)


def big(n: int) -> list[Event]:
    """A batch larger than any slack a full tmpfs has left in its last page."""
    return [
        JobReady(at=1.0, job=f"{n}-{i}-{'x' * 200}", origin="t", seq=n * 1000 + i)
        for i in range(100)
    ]


async def test_a_failed_append_is_rolled_back_and_the_log_recovers(small_disk: Path) -> None:
    path = small_disk / "events.log"
    log = await FileEventLog.open(path)
    await log.append([ready(1)])
    segment = segments_dir(path) / segment_name(0)
    size, chain = segment.stat().st_size, log.chain_hash()
    filler = fill(small_disk)
    with pytest.raises(LogUnavailable, match="No space left on device") as refused:
        await log.append(big(2))
    assert refused.value.sent is False
    assert segment.stat().st_size == size  # cut back to the last good record
    assert (await log.head()).offset == 1
    assert log.chain_hash() == chain
    assert "No space left on device" in log.failure
    filler.unlink()
    async with asyncio.timeout(10):  # the log finds out by itself that it can write again
        while log.failure:
            await asyncio.sleep(0.05)
    await log.append([ready(3)])
    await log.close()
    reopened = await FileEventLog.open(path)
    assert jobs(await read_all(reopened)) == [["1"], ["3"]]
    await reopened.close()


async def test_a_caller_told_not_recorded_never_sees_its_events_land(small_disk: Path) -> None:
    """Before: the producer kept retrying the batch after its caller had answered 503, and it
    landed once space came back."""
    path = small_disk / "events.log"
    log = await FileEventLog.open(path)
    producer = Producer(log, origin="api")
    producer.start()
    await producer.emit([ready(1)], timeout_s=5)
    filler = fill(small_disk)
    with pytest.raises(LogUnavailable, match="not recorded within") as refused:
        await producer.emit(big(2), timeout_s=0.5)
    assert refused.value.sent is False
    filler.unlink()
    await producer.emit([ready(3)], timeout_s=5)
    await asyncio.sleep(2.5)  # longer than the producer's retry delays: a resend would show
    await producer.emit([ready(4)], timeout_s=5)
    await producer.close()
    records = await read_all(log)
    await log.close()
    assert [[e.job for e in r.events] for r in records] == [  # type: ignore[union-attr]
        ["1"],
        ["3"],
        ["4"],
    ]


async def test_an_old_log_that_cannot_be_upgraded_is_left_as_it_was(small_disk: Path) -> None:
    """The upgrade to format 2 needs room for a copy; without it the start is refused and the
    old log, still format 1, is all there is, as before."""
    path = small_disk / "events.log"
    shutil.copy(V1_LOG, path)
    fill(small_disk)
    with pytest.raises(OSError, match="No space left on device"):
        await FileEventLog.open(path)
    assert path.read_bytes() == V1_LOG.read_bytes()
    assert sorted(p.name for p in small_disk.iterdir()) == ["events.log", "events.log.d", "filler"]
