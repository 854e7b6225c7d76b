"""The embedded log in segments: rolling, reading across them, trusting sealed ones by their
indexes, damage in a sealed segment, a single-file log moved in, and deleting old segments."""

from __future__ import annotations

import hashlib
import itertools
import shutil
from pathlib import Path

import pytest

from podium.cli import main
from podium.events import logformat
from podium.events.filelog import FileEventLog
from podium.events.logformat import HEADER, SEGMENT_HEADER
from podium.events.model import JobReady
from podium.events.ports import LogCorrupted, LogTruncated, Record
from podium.events.segments import index_path, segment_name, segments_dir
from tests.integration.test_filelog import change_byte, jobs, read_all

SMALL = 600  # bytes per segment: a few one-event records each


def ready(n: int) -> JobReady:
    return JobReady(at=1.0, job=str(n), origin="t", seq=n)


async def write(path: Path, count: int, start: int = 1) -> None:
    log = await FileEventLog.open(path, fsync=False, segment_bytes=SMALL)
    for n in range(start, start + count):
        await log.append([ready(n)])
    await log.close()


def files(path: Path, suffix: str = ".seg") -> list[Path]:
    return sorted(segments_dir(path).glob(f"*{suffix}"))


async def reading_from(path: Path, offset: int) -> list[str]:
    log = await FileEventLog.open(path, segment_bytes=SMALL)
    try:
        end = (await log.head()).offset
        names: list[str] = []
        async for record in log.subscribe(offset):
            names.extend(e.job for e in record.events if isinstance(e, JobReady))
            if record.offset == end - 1:
                break
        return names
    finally:
        await log.close()


async def test_a_log_rolls_into_segments_named_by_their_first_record(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    await write(path, 40)
    log = await FileEventLog.open(path, segment_bytes=SMALL)
    spans = log.segments()
    await log.close()
    assert len(spans) > 4
    assert [name.name for name in files(path)] == [segment_name(first) for first, _ in spans]
    assert all(end == following for (_, end), (following, _) in itertools.pairwise(spans))
    assert spans[-1][1] == 40
    # Each segment's header names its first record and the chain hash of the record before it.
    chain = logformat.NO_CHAIN
    for (first, _), file in zip(spans, files(path), strict=True):
        data = file.read_bytes()
        _, named, previous, _ = SEGMENT_HEADER.unpack_from(data, 0)
        assert (named, previous) == (first, chain)
        scanned = logformat.scan(data)
        last = data[scanned.starts[-1] : scanned.end]
        chain = hashlib.sha256(last).digest()
    for offset in (0, 1, 7, 17, 39):
        assert await reading_from(path, offset) == [str(n) for n in range(offset + 1, 41)]


async def test_sealed_segments_are_trusted_by_their_index_and_read_without_one(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.log"
    await write(path, 30)
    indexes = files(path, ".idx")
    assert len(indexes) == len(files(path)) - 1  # every segment but the last
    indexes[0].unlink()
    indexes[1].write_bytes(b"not an index")
    assert await reading_from(path, 0) == [str(n) for n in range(1, 31)]
    assert indexes[0].exists()  # read, checked and indexed again
    assert indexes[1].read_bytes() != b"not an index"


async def test_a_torn_sealed_segment_refuses_and_is_left_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    await write(path, 30)
    sealed = files(path)[1]
    index_path(sealed).unlink()
    with sealed.open("r+b") as file:
        file.truncate(sealed.stat().st_size - 3)
    damaged = sealed.read_bytes()
    with pytest.raises(LogCorrupted, match="only the last segment may end in a torn record"):
        await FileEventLog.open(path)
    assert sealed.read_bytes() == damaged


async def test_a_sealed_segment_whose_size_changed_is_checked_again(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    await write(path, 30)
    sealed = files(path)[1]
    with sealed.open("ab") as file:
        file.write(b"\0" * 10)  # the index says another size: the segment is read
    with pytest.raises(LogCorrupted, match="only the last segment may end in a torn record"):
        await FileEventLog.open(path)


async def test_a_missing_segment_refuses(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    await write(path, 30)
    middle = files(path)[2]
    middle.unlink()
    with pytest.raises(LogCorrupted, match="a segment is missing or was changed"):
        await FileEventLog.open(path)


async def test_damage_inside_a_sealed_segment_stops_a_reader_and_verify_finds_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "events.log"
    await write(path, 30)
    sealed = files(path)[1]
    first = int(sealed.name.split(".")[0])
    change_byte(sealed, SEGMENT_HEADER.size + HEADER.size + 3)  # its first record's payload
    log = await FileEventLog.open(path)  # trusted by its index: open does not read it
    with pytest.raises(LogCorrupted, match=f"record {first} at byte {SEGMENT_HEADER.size} fails"):
        await read_all(log)
    await log.close()
    assert main(["log", "verify", "--data-dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"{sealed}: record {first} at byte {SEGMENT_HEADER.size} has a payload" in out
    assert f"--truncate-at {first}` keeps them" in out
    assert main(["log", "repair", "--data-dir", str(tmp_path), "--truncate-at", str(first)]) == 0
    capsys.readouterr()
    assert await reading_from(path, 0) == [str(n) for n in range(1, first + 1)]
    (aside,) = tmp_path.glob("events.log.d.before-repair-*")
    assert (aside / sealed.name).exists()


async def test_verify_says_a_segmented_log_is_good(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "events.log"
    await write(path, 30)
    assert main(["log", "verify", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"{segments_dir(path)}: {len(files(path))} segments" in out
    assert f"{segments_dir(path)}: records 0 to 29, all good" in out


async def test_a_new_segment_whose_header_a_crash_cut_is_written_again(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    await write(path, 30)
    last = files(path)[-1]
    first = int(last.name.split(".")[0])
    with last.open("r+b") as file:
        file.truncate(10)  # what a crash while starting it could leave
    log = await FileEventLog.open(path, segment_bytes=SMALL)
    assert (await log.head()).offset == first
    await log.append([ready(100)])
    await log.close()
    assert (await reading_from(path, first)) == ["100"]


async def test_a_single_file_log_becomes_the_first_segment_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    await write(path, 3)
    data = files(path)[0].read_bytes()[SEGMENT_HEADER.size :]
    shutil.rmtree(segments_dir(path))
    path.write_bytes(data + b"\0" * 100)  # a log from before segments, with a torn tail
    await write(path, 30, start=4)
    assert not path.exists()
    first = files(path)[0]
    assert first.read_bytes()[: len(data)] == data  # moved in, not rewritten
    assert await reading_from(path, 0) == [str(n) for n in range(1, 34)]


async def test_deleted_segments_are_gone_for_readers_and_stay_gone(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    await write(path, 40)
    log = await FileEventLog.open(path, segment_bytes=SMALL)
    spans = log.segments()
    chain_before = log._chain_of(spans[2][0] - 1)
    deleted = await log.delete_before(spans[2][0] + 1)
    assert deleted == [spans[0][0], spans[1][0]]
    assert log.first_offset == spans[2][0]
    with pytest.raises(LogTruncated):
        await anext(log.subscribe(0))
    await log.close()
    assert len(files(path)) == len(spans) - 2
    reopened = await FileEventLog.open(path, segment_bytes=SMALL)
    assert reopened.first_offset == spans[2][0]
    assert reopened._chain_of(spans[2][0] - 1) == chain_before  # the segment header keeps it
    await reopened.append([ready(41)])
    assert jobs(await _from(reopened, spans[2][0]))[-1] == ["41"]
    await reopened.close()


async def _from(log: FileEventLog, offset: int) -> list[Record]:
    end = (await log.head()).offset
    records: list[Record] = []
    async for record in log.subscribe(offset):
        records.append(record)
        if record.offset == end - 1:
            break
    return records
