"""`podium log verify` and `podium log repair`, through the real command line, on real files."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from podium.cli import main
from podium.events import logformat
from podium.events.filelog import FileEventLog
from podium.events.model import JobReady
from podium.events.ports import LogUnavailable
from podium.events.segments import segment_name, segments_dir
from podium.events.snapshots import FileSnapshots, Snapshot
from podium.events.state import State


def ready(n: int) -> JobReady:
    return JobReady(at=1.0, job=str(n), origin="t", seq=n)


async def make_log(data: Path, records: int, snapshot_at: int | None = None) -> list[int]:
    """A data dir with a log of one-event records (and a snapshot ending at a record); where
    each record starts."""
    log = await FileEventLog.open(data / "events.log", fsync=False)
    for n in range(records):
        await log.append([ready(n + 1)])
        if snapshot_at == n + 1:
            await FileSnapshots(data / "snapshot.bin").save(
                Snapshot(n + 1, State(), log.chain_hash())
            )
    await log.close()
    return list(logformat.scan(segment(data).read_bytes()).starts)


def segment(data: Path, first: int = 0) -> Path:
    return segments_dir(data / "events.log") / segment_name(first)


def flip(path: Path, offset: int) -> None:
    with path.open("r+b") as file:
        file.seek(offset)
        byte = file.read(1)[0]
        file.seek(offset)
        file.write(bytes([byte ^ 0x80]))


def podium(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


async def test_verify_says_a_good_log_and_its_snapshot_are_good(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await make_log(tmp_path, 5, snapshot_at=3)
    code, out, _ = podium(capsys, "log", "verify", "--data-dir", str(tmp_path))
    assert code == 0
    assert f"{tmp_path / 'events.log.d'}: records 0 to 4, all good" in out
    assert f"{tmp_path / 'snapshot.bin'}: covers records up to 2, chain hash matches" in out


async def test_verify_names_the_damaged_record_and_byte_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    starts = await make_log(tmp_path, 10)
    log = segment(tmp_path)
    flip(log, starts[4] + 7)  # the length of record 4
    damaged = log.read_bytes()
    code, out, _ = podium(capsys, "log", "verify", "--data-dir", str(tmp_path))
    assert code == 1
    assert f"{log}: record 4 at byte {starts[4]} has a header that fails its checksum" in out
    assert "--truncate-at 4` keeps them" in out
    assert log.read_bytes() == damaged


async def test_verify_reports_a_torn_tail_as_cut_by_the_next_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    starts = await make_log(tmp_path, 3)
    log = segment(tmp_path)
    with log.open("r+b") as file:
        file.truncate(log.stat().st_size - 2)
    code, out, _ = podium(capsys, "log", "verify", "--data-dir", str(tmp_path))
    assert code == 0
    assert f"2 good records, then a torn last record: record 2 at byte {starts[2]}" in out


async def test_verify_finds_a_snapshot_ahead_of_the_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await make_log(tmp_path, 4, snapshot_at=4)
    log = segment(tmp_path)
    starts = list(logformat.scan(log.read_bytes()).starts)
    with log.open("r+b") as file:
        file.truncate(starts[2])  # records 2 and 3 gone, the snapshot still covers them
    code, out, _ = podium(capsys, "log", "verify", "--data-dir", str(tmp_path))
    assert code == 1
    assert "covers records up to 3, but" in out
    assert "the snapshot is ahead of the log" in out


async def test_repair_keeps_a_copy_cuts_at_the_record_and_sets_the_snapshot_aside(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    starts = await make_log(tmp_path, 10, snapshot_at=8)
    log = segment(tmp_path)
    flip(log, starts[6] + 20)  # in record 6's header: records 6 to 9 cannot be kept
    original = log.read_bytes()
    code, out, _ = podium(
        capsys, "log", "repair", "--data-dir", str(tmp_path), "--truncate-at", "6"
    )
    assert code == 0, out
    (backup,) = tmp_path.glob("events.log.d.before-repair-*")
    assert (backup / log.name).read_bytes() == original
    assert log.read_bytes() == original[: starts[6]]
    (aside,) = tmp_path.glob("snapshot.bin.before-repair-*")
    assert not (tmp_path / "snapshot.bin").exists()
    assert f"covered records that were cut: moved to {aside}" in out
    reopened = await FileEventLog.open(tmp_path / "events.log")  # it starts again: 0 to 5
    assert (await reopened.head()).offset == 6
    await reopened.close()


async def test_repair_refuses_to_keep_a_record_past_the_damage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    starts = await make_log(tmp_path, 5)
    log = segment(tmp_path)
    flip(log, starts[2] + 50)  # record 2's payload
    damaged = log.read_bytes()
    code, _, err = podium(
        capsys, "log", "repair", "--data-dir", str(tmp_path), "--truncate-at", "3"
    )
    assert code == 1
    assert err == (
        f"podium log repair: {log.parent} damaged at record 2: --truncate-at takes a record "
        "from 0 to 2, not 3; nothing was changed\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.log.d"]
    assert log.read_bytes() == damaged


async def test_a_log_in_use_is_neither_repaired_nor_opened_twice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await make_log(tmp_path, 3)
    log = await FileEventLog.open(tmp_path / "events.log")
    try:
        code, _, err = podium(
            capsys, "log", "repair", "--data-dir", str(tmp_path), "--truncate-at", "1"
        )
        assert code == 1
        assert "is open in a running podium: stop it first" in err
        with pytest.raises(LogUnavailable, match="in use by another podium process"):
            await FileEventLog.open(tmp_path / "events.log")
    finally:
        await log.close()
    assert (await _records(tmp_path)) == 3


async def _records(data: Path) -> int:
    log = await FileEventLog.open(data / "events.log")
    try:
        return (await log.head()).offset
    finally:
        await log.close()


def test_verify_exits_1_as_a_process(tmp_path: Path) -> None:
    starts = asyncio.run(make_log(tmp_path, 3))
    flip(segment(tmp_path), starts[1] + 60)
    result = subprocess.run(
        [sys.executable, "-m", "podium.cli", "log", "verify", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"record 1 at byte {starts[1]} has a payload that fails its checksum" in result.stdout
    assert "Traceback" not in result.stderr
