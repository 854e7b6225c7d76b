"""`podium log verify` and `podium log repair`: check an embedded log and its snapshot without
changing them, and cut a damaged log at a record when an operator asks, keeping a copy.

Both work on the files alone, and neither is needed for a torn last record: the next start cuts
that on its own. Repair is for what a start refuses: it keeps the records before the one named,
loses every record from it on (offsets and event ids are positions, so nothing after a gap could
be kept), and sets aside a snapshot that covers records it cut.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from podium.events import logformat
from podium.events.filelog import LOG_FILE
from podium.events.logformat import FORMAT_1, Damage
from podium.events.snapshots import SNAPSHOT_FILE, decode_snapshot


class RepairRefused(Exception):
    """Raised when a repair cannot be done as asked; nothing was changed."""


@dataclass
class Verdict:
    """What `verify` found: `damaged` when a start would refuse; `lines` say what and where."""

    damaged: bool = False
    lines: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Log:
    """A log file's good records: their starts (and where the good prefix ends), and why the
    rest is not good."""

    path: Path
    data: bytes
    format: int
    starts: list[int]
    end: int
    damage: Damage | None
    torn: logformat.Torn | None

    def chain_of(self, record: int) -> bytes:
        """The chain hash of a good record, as format 2 has it (format 1 as upgraded)."""
        data = self.data[: self.end]
        if self.format == FORMAT_1:
            data = logformat.upgrade(data)[0]
        starts = [*logformat.scan(data).starts, len(data)]
        return logformat.chain_hash(data[starts[record] : starts[record + 1]])


def _read_log(path: Path) -> _Log:
    data = path.read_bytes()
    try:
        scanned = logformat.scan(data)
    except Damage as damage:
        good = logformat.scan(data[: damage.offset])  # every record before the damage is good
        return _Log(path, data, good.format, list(good.starts), damage.offset, damage, None)
    return _Log(path, data, scanned.format, list(scanned.starts), scanned.end, None, scanned.torn)


def verify(data_dir: Path) -> Verdict:
    """Raises OSError when the log cannot be read."""
    verdict = Verdict()
    say = verdict.lines.append
    log = _read_log(data_dir / LOG_FILE)
    records = len(log.starts)
    upgraded = " (upgraded to format 2 on the next start)" if log.format == FORMAT_1 else ""
    say(f"{log.path}: format {log.format}{upgraded}, {len(log.data)} bytes")
    if log.damage is not None:
        verdict.damaged = True
        say(f"{log.path}: {log.damage}: a start refuses it")
        say(
            f"{log.path}: records 0 to {records - 1} are good; `podium log repair --data-dir "
            f"{data_dir} --truncate-at {records}` keeps them and cuts the rest (a copy is kept)"
        )
    elif log.torn is not None:
        torn, cut = log.torn, len(log.data) - log.end
        say(
            f"{log.path}: {records} good records, then a torn last record: record {torn.record} "
            f"at byte {torn.offset} {torn.reason} ({cut} bytes); the next start cuts it"
        )
    else:
        say(f"{log.path}: {records} records, all good")
    _verify_snapshot(data_dir / SNAPSHOT_FILE, log, verdict)
    return verdict


def _verify_snapshot(path: Path, log: _Log, verdict: Verdict) -> None:
    if not path.exists():
        verdict.lines.append(f"{path}: none")
        return
    try:
        snapshot = decode_snapshot(path.read_bytes())
    except (OSError, zlib.error, msgspec.DecodeError) as exc:
        verdict.lines.append(f"{path}: unreadable ({exc}); a start folds the whole log instead")
        return
    covered = snapshot.next_offset
    records = len(log.starts)
    if covered > records:
        verdict.damaged = True
        verdict.lines.append(
            f"{path}: covers records up to {covered - 1}, but {log.path} has good records only "
            f"up to {records - 1} (byte {log.end}): the snapshot is ahead of the log"
        )
    elif snapshot.chain and covered and snapshot.chain != log.chain_of(covered - 1):
        verdict.damaged = True
        verdict.lines.append(
            f"{path}: does not match {log.path} at record {covered - 1} (byte "
            f"{log.starts[covered - 1]}): their chain hashes differ"
        )
    else:
        checked = "chain hash matches" if snapshot.chain else "no chain hash to compare"
        verdict.lines.append(f"{path}: covers records up to {covered - 1}, {checked}")


def repair(data_dir: Path, truncate_at: int, now: Callable[[], float] = time.time) -> list[str]:
    """Cut the log so that records 0 to `truncate_at - 1` remain, after copying it aside.
    Raises RepairRefused, or OSError."""
    path = data_dir / LOG_FILE
    fd = os.open(path, os.O_RDWR)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RepairRefused(f"{path} is open in a running podium: stop it first") from None
        return _repair_locked(data_dir, fd, truncate_at, now())
    finally:
        os.close(fd)


def _repair_locked(data_dir: Path, fd: int, truncate_at: int, at: float) -> list[str]:
    log = _read_log(data_dir / LOG_FILE)
    records = len(log.starts)
    if not 0 <= truncate_at <= records:
        where = f"damaged at record {records}" if log.damage else f"has {records} good records"
        raise RepairRefused(
            f"{log.path} {where}: --truncate-at takes a record from 0 to {records}, "
            f"not {truncate_at}"
        )
    cut_at = log.starts[truncate_at] if truncate_at < records else log.end
    if cut_at == len(log.data):
        return [f"{log.path}: {records} records, all good: nothing to cut"]
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(at))
    backup = log.path.with_name(f"{log.path.name}.before-repair-{stamp}")
    shutil.copyfile(log.path, backup)
    _fsync(backup)
    os.ftruncate(fd, cut_at)
    os.fsync(fd)
    lines = [
        f"{log.path}: copied to {backup}",
        f"{log.path}: cut at byte {cut_at}: records 0 to {truncate_at - 1} kept, "
        f"{len(log.data) - cut_at} bytes removed",
    ]
    snapshot = data_dir / SNAPSHOT_FILE
    if snapshot.exists() and _covers_more_than(snapshot, truncate_at):
        aside = snapshot.with_name(f"{snapshot.name}.before-repair-{stamp}")
        os.replace(snapshot, aside)
        lines.append(f"{snapshot}: covered records that were cut: moved to {aside}")
    return lines


def _covers_more_than(path: Path, records: int) -> bool:
    try:
        return decode_snapshot(path.read_bytes()).next_offset > records
    except (zlib.error, msgspec.DecodeError):
        return True  # unreadable: it cannot be shown to fit the cut log


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
