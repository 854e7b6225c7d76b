"""The embedded log's file format: reopen, torn tails, corruption."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from podium.events.filelog import FileEventLog, frame
from podium.events.model import Event, JobReady
from podium.events.ports import LogCorrupted, Record


def ready(job: str) -> JobReady:
    return JobReady(at=1.0, job=job, origin="t", seq=int(job))


async def read_all(log: FileEventLog) -> list[Record]:
    end = (await log.head()).offset
    records: list[Record] = []
    if end == 0:
        return records
    async for record in log.subscribe(0):
        records.append(record)
        if record.offset == end - 1:
            break
    return records


async def write(path: Path, *batches: list[Event]) -> None:
    log = await FileEventLog.open(path, fsync=False)
    for batch in batches:
        await log.append(batch)
    await log.close()


async def test_a_reopened_log_reads_back_every_batch_in_order(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    await write(path, [ready("1"), ready("2")], [ready("3")])
    log = await FileEventLog.open(path)
    records = await read_all(log)
    assert [r.offset for r in records] == [0, 1]
    assert [[e.job for e in r.events] for r in records] == [["1", "2"], ["3"]]  # type: ignore[union-attr]
    await log.append([ready("4")])
    assert (await log.head()).offset == 3
    await log.close()


async def test_the_file_is_private_to_its_owner(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    await write(path, [ready("1")])
    assert path.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("cut", [1, 4, 7, 8, 12])
async def test_a_torn_last_record_is_cut_off_on_open(tmp_path: Path, cut: int) -> None:
    path = tmp_path / "events.log"
    await write(path, [ready("1")], [ready("2")])
    size = path.stat().st_size
    with path.open("r+b") as file:
        file.truncate(size - cut)
    log = await FileEventLog.open(path)
    assert [r.offset for r in await read_all(log)] == [0]
    await log.append([ready("3")])  # and the log goes on from the good prefix
    assert [[e.job for e in r.events] for r in await read_all(log)] == [["1"], ["3"]]  # type: ignore[union-attr]
    await log.close()


async def test_a_checksum_mismatch_in_the_last_record_is_a_torn_write(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    await write(path, [ready("1")], [ready("2")])
    _flip_last_byte(path)
    log = await FileEventLog.open(path)
    assert len(await read_all(log)) == 1
    await log.close()


async def test_zero_filling_after_a_crash_is_cut_off(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    await write(path, [ready("1")])
    size = path.stat().st_size
    with path.open("ab") as file:
        file.write(b"\0" * 4096)
    log = await FileEventLog.open(path)
    assert len(await read_all(log)) == 1
    await log.close()
    assert path.stat().st_size == size


async def test_a_bad_record_followed_by_good_ones_refuses_to_open(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    await write(path, [ready("1")], [ready("2")], [ready("3")])
    first_length = len(frame(b"x" * 0)) - 8  # header size is 8
    with path.open("r+b") as file:
        file.seek(8 + first_length + 2)  # inside the first record's payload
        byte = file.read(1)
        file.seek(-1, os.SEEK_CUR)
        file.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(LogCorrupted, match="record 0 at byte 0"):
        await FileEventLog.open(path)


async def test_subscribers_see_new_records_after_the_old_ones(tmp_path: Path) -> None:
    log = await FileEventLog.open(tmp_path / "events.log", fsync=False)
    await log.append([ready("1")])
    seen: list[int] = []
    stream = log.subscribe(0)
    seen.append((await anext(stream)).offset)
    await log.append([ready("2")])
    await log.append([ready("3")])
    seen.append((await anext(stream)).offset)
    seen.append((await anext(stream)).offset)
    assert seen == [0, 1, 2]
    await log.close()
    assert [r async for r in stream] == []  # closing ends the subscription


def _flip_last_byte(path: Path) -> None:
    with path.open("r+b") as file:
        file.seek(-1, os.SEEK_END)
        byte = file.read(1)
        file.seek(-1, os.SEEK_END)
        file.write(bytes([byte[0] ^ 0xFF]))
