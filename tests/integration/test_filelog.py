"""The embedded log's file format: reopen, torn tails, damage that refuses, the hash chain, old
logs upgraded."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import zlib
from itertools import pairwise
from pathlib import Path

import pytest

from podium.events import filelog, logformat
from podium.events.filelog import FileEventLog
from podium.events.logformat import HEADER, MAGIC, MAX_RECORD_BYTES, NO_CHAIN
from podium.events.model import Event, JobReady
from podium.events.ports import LogCorrupted, LogUnavailable, Record
from podium.events.segments import segment_name, segments_dir
from podium.events.snapshots import FileSnapshots, Snapshot
from podium.events.state import State
from tests.conftest import DATA

V1_LOG = DATA / "logs" / "v1" / "events.log"


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


def jobs(records: list[Record]) -> list[list[str]]:
    return [[e.job for e in r.events if isinstance(e, JobReady)] for r in records]


async def write(path: Path, *batches: list[Event]) -> None:
    log = await FileEventLog.open(path, fsync=False)
    for batch in batches:
        await log.append(batch)
    await log.close()


def segment(path: Path, first: int = 0) -> Path:
    """The file of the log's segment starting at record `first`."""
    return segments_dir(path) / segment_name(first)


async def write_jobs(path: Path, count: int) -> list[int]:
    """A log of `count` one-event records; where each starts in its (first) segment."""
    batches: list[list[Event]] = [[ready(str(n))] for n in range(1, count + 1)]
    await write(path, *batches)
    return list(logformat.scan(segment(path).read_bytes()).starts)


def change_byte(path: Path, offset: int, change: int = 0xFF) -> None:
    with path.open("r+b") as file:
        file.seek(offset)
        byte = file.read(1)[0]
        file.seek(offset)
        file.write(bytes([byte ^ change]))


async def test_a_reopened_log_reads_back_every_batch_in_order(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    await write(path, [ready("1"), ready("2")], [ready("3")])
    log = await FileEventLog.open(path)
    records = await read_all(log)
    assert [r.offset for r in records] == [0, 1]
    assert jobs(records) == [["1", "2"], ["3"]]
    await log.append([ready("4")])
    assert (await log.head()).offset == 3
    await log.close()


async def test_the_file_is_private_to_its_owner(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    await write(path, [ready("1")])
    assert segment(path).stat().st_mode & 0o777 == 0o600


async def test_each_record_carries_the_chain_hash_of_the_one_before(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    log = await FileEventLog.open(path, fsync=False)
    live: list[Record] = []
    stream = log.subscribe(0)
    for n in range(1, 4):
        await log.append([ready(str(n))])
        live.append(await anext(stream))
    await log.close()
    data = segment(path).read_bytes()
    starts = [*logformat.scan(data).starts, len(data)]
    hashes = [hashlib.sha256(data[a:b]).digest() for a, b in pairwise(starts)]
    previous = [HEADER.unpack_from(data, start)[3] for start in starts[:-1]]
    assert previous == [NO_CHAIN, *hashes[:-1]]
    assert [r.chain for r in live] == hashes  # as appended
    reopened = await FileEventLog.open(path)
    assert [r.chain for r in await read_all(reopened)] == hashes  # as read back
    assert reopened.chain_hash() == hashes[-1]
    await reopened.close()


@pytest.mark.parametrize("cut", [1, 4, 40, HEADER.size, HEADER.size + 3])
async def test_a_torn_last_record_is_cut_off_on_open(tmp_path: Path, cut: int) -> None:
    path = tmp_path / "events.log"
    await write(path, [ready("1")], [ready("2")])
    size = segment(path).stat().st_size
    with segment(path).open("r+b") as file:
        file.truncate(size - cut)
    log = await FileEventLog.open(path)
    assert [r.offset for r in await read_all(log)] == [0]
    await log.append([ready("3")])  # and the log goes on from the good prefix
    assert jobs(await read_all(log)) == [["1"], ["3"]]
    await log.close()


async def test_a_checksum_mismatch_in_the_last_record_is_a_torn_write(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    await write(path, [ready("1")], [ready("2")])
    change_byte(segment(path), segment(path).stat().st_size - 1)
    log = await FileEventLog.open(path)
    assert len(await read_all(log)) == 1
    await log.close()


async def test_zero_filling_after_a_crash_is_cut_off(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    await write(path, [ready("1")])
    size = segment(path).stat().st_size
    with segment(path).open("ab") as file:
        file.write(b"\0" * 4096)
    log = await FileEventLog.open(path)
    assert len(await read_all(log)) == 1
    await log.close()
    assert segment(path).stat().st_size == size


async def test_a_bad_record_followed_by_good_ones_refuses_to_open(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    await write(path, [ready("1")], [ready("2")], [ready("3")])
    first = logformat.SEGMENT_HEADER.size
    change_byte(segment(path), first + HEADER.size + 2)  # inside the first record's payload
    damaged = segment(path).read_bytes()
    with pytest.raises(LogCorrupted, match=f"record 0 at byte {first} has a payload that fails"):
        await FileEventLog.open(path)
    assert segment(path).read_bytes() == damaged


@pytest.mark.parametrize("bit", [0, 7, 15, 31])
async def test_one_flipped_bit_in_a_mid_file_length_refuses_and_cuts_nothing(
    tmp_path: Path, bit: int
) -> None:
    """The issue's case: the old reader took the record for a torn tail and cut half the log."""
    path = tmp_path / "events.log"
    starts = await write_jobs(path, 40)
    middle = starts[20]
    length_at = middle + 4 + (3 - bit // 8)  # the length field follows the 4-byte magic
    change_byte(segment(path), length_at, 1 << (bit % 8))
    damaged = segment(path).read_bytes()
    with pytest.raises(LogCorrupted) as refused:
        await FileEventLog.open(path)
    message = f"{segment(path)}: record 20 at byte {middle} has a header that fails its checksum"
    assert message in str(refused.value)
    assert segment(path).read_bytes() == damaged


@pytest.mark.parametrize("bit", [6, 7, 20, 31])
async def test_one_flipped_bit_in_a_format_1_length_refuses_too(tmp_path: Path, bit: int) -> None:
    """The same flip in a log written before format 2 (no header checksum): refused, not cut."""
    path = tmp_path / "events.log"
    shutil.copy(V1_LOG, path)
    starts = list(logformat.scan(path.read_bytes()).starts)
    middle = starts[len(starts) // 2]
    change_byte(path, middle + 3 - bit // 8, 1 << (bit % 8))
    damaged = path.read_bytes()
    with pytest.raises(LogCorrupted, match=f"record {len(starts) // 2} at byte {middle} "):
        await FileEventLog.open(path)
    assert path.read_bytes() == damaged
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.log", "events.log.d"]


@pytest.mark.parametrize("xor", [0x01, 0xC0, 0xFF])
async def test_a_damaged_first_magic_is_not_taken_for_a_format_1_log(
    tmp_path: Path, xor: int
) -> None:
    """Read as format 1, the damaged magic would be a length that passes for a torn tail, and
    every record would be cut (Hypothesis found it)."""
    path = tmp_path / "events.log"
    starts = await write_jobs(path, 5)
    path.write_bytes(segment(path).read_bytes()[starts[0] :])  # a single-file log, as before
    shutil.rmtree(segments_dir(path))
    change_byte(path, 0, xor)
    damaged = path.read_bytes()
    with pytest.raises(LogCorrupted, match="record 0 at byte 0 has a header that fails"):
        await FileEventLog.open(path)
    assert path.read_bytes() == damaged


@pytest.mark.parametrize("at", [0, 8, 40, 47])
async def test_a_damaged_segment_header_refuses(tmp_path: Path, at: int) -> None:
    path = tmp_path / "events.log"
    await write_jobs(path, 5)
    change_byte(segment(path), at)
    damaged = segment(path).read_bytes()
    with pytest.raises(LogCorrupted, match="record 0 at byte 0 has"):
        await FileEventLog.open(path)
    assert segment(path).read_bytes() == damaged


async def test_a_length_above_the_maximum_is_damage_even_when_its_header_checks(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.log"
    await write(path, [ready("1")])
    record = segment(path).read_bytes()[logformat.SEGMENT_HEADER.size :]
    head = HEADER.pack(MAGIC, MAX_RECORD_BYTES + 1, 0, logformat.chain_hash(record), 0)
    fake = head[:44] + zlib.crc32(head[:44]).to_bytes(4, "big")
    with segment(path).open("ab") as file:
        file.write(fake)
    with pytest.raises(
        LogCorrupted, match=r"record 1 at byte \d+ claims \d+ bytes, more than a record may hold"
    ):
        await FileEventLog.open(path)


async def test_a_record_that_does_not_follow_its_predecessor_refuses(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    starts = await write_jobs(path, 3)
    data = segment(path).read_bytes()
    segment(path).write_bytes(data[: starts[1]] + data[starts[2] :])  # record 1 taken out
    with pytest.raises(LogCorrupted, match=f"record 1 at byte {starts[1]} does not follow"):
        await FileEventLog.open(path)


async def test_an_old_log_is_upgraded_record_for_record_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    shutil.copy(V1_LOG, path)
    before = [bytes(p) for p in logformat.payloads(V1_LOG.read_bytes())]
    log = await FileEventLog.open(path)
    await log.append([ready("1")])
    await log.close()
    assert (tmp_path / "events.log.v1").read_bytes() == V1_LOG.read_bytes()
    data = segment(path).read_bytes()
    scanned = logformat.scan(data)
    assert scanned.format == logformat.FORMAT_2
    assert scanned.torn is None
    after = [bytes(p) for p in logformat.payloads(data)]
    assert after[:-1] == before  # same records, same offsets; the new one in format 2
    reopened = await FileEventLog.open(path)  # once upgraded, it stays as it is
    assert (await reopened.head()).offset == len(before) + 1
    await reopened.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.log.d", "events.log.v1"]


async def test_a_snapshot_ahead_of_the_log_or_of_another_log_refuses(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    await write_jobs(path, 3)
    log = await FileEventLog.open(path)
    chain = log.chain_hash()
    snapshots = FileSnapshots(tmp_path / "snapshot.bin", log)
    await snapshots.save(Snapshot(3, State(), chain))
    assert (await snapshots.latest()) is not None
    await snapshots.save(Snapshot(4, State(), chain))
    with pytest.raises(LogCorrupted, match=r"covers records up to 3, but .* after record 2"):
        await snapshots.latest()
    await snapshots.save(Snapshot(2, State(), chain))  # record 1's hash is not record 2's
    with pytest.raises(LogCorrupted, match=r"does not match .* at record 1: their chain"):
        await snapshots.latest()
    await log.close()


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


class UncutLog(FileEventLog):
    """A file log whose next write lands whole and then fails, and cannot be cut back: a disk
    cannot be made to refuse a truncate on cue."""

    fail_next = False

    def _write(self, record: bytes, start: int, uncut: bool = False) -> None:
        if not self.fail_next:
            return super()._write(record, start, uncut)
        self.fail_next = False
        super()._write(record, start, uncut)
        raise filelog._NotRolledBack("fdatasync: I/O error; not cut back: I/O error")


async def test_the_end_is_unknown_while_a_failed_append_was_not_cut_back(tmp_path: Path) -> None:
    """Its bytes may be a whole record, which the next open would read: nobody may conclude
    from the end of the log that it is not there until it is written over, and what is left
    of it past a shorter record written over it goes before a roll seals the segment."""
    path = tmp_path / "events.log"
    await (await FileEventLog.open(path, fsync=False)).close()
    log = await asyncio.to_thread(UncutLog._open, path, False, 2_000)
    assert isinstance(log, UncutLog)
    await log.append([JobReady(at=1.0, job="1" * 800)])
    log.fail_next = True
    with pytest.raises(LogUnavailable) as failed:
        await log.append([JobReady(at=1.0, job="2" * 3000)])
    assert failed.value.sent
    with pytest.raises(LogUnavailable, match="is not known"):
        await log.head()
    await log.append([JobReady(at=1.0, job="3" * 1300)])  # written over where "2" began
    assert (await log.head()).offset == 2
    await log.append([JobReady(at=1.0, job="4")])  # past 2,000 bytes: the first is sealed
    assert len(log.segments()) == 2
    await log.close()
    reopened = await FileEventLog.open(path, fsync=False)
    assert jobs(await read_all(reopened)) == [["1" * 800], ["3" * 1300], ["4"]]
    await reopened.close()
