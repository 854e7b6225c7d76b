"""`podium log verify` and `podium log repair`: check an embedded log and its snapshot without
changing them, and cut a damaged log at a record when an operator asks, keeping a copy.

Both work on the files alone, and neither is needed for a torn last record: the next start cuts
that on its own. Verify reads every segment a window at a time (indexes are not trusted here).
Repair is for what a start refuses: it keeps the records before the one named, loses every
record from it on (offsets and event ids are positions, so nothing after a gap could be kept),
and sets aside a snapshot that covers records it cut. A single-file log from before segments
(the next start moves it in as the first segment) is checked and repaired as one file.
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

from podium.events import logformat, segments
from podium.events.filelog import LOG_FILE
from podium.events.logformat import FORMAT_1, NO_CHAIN, Damage
from podium.events.segments import Segment
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
    """A single-file log's good records: their starts (and where the good prefix ends), and
    why the rest is not good."""

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


@dataclass(slots=True)
class _Segmented:
    """A segmented log, every segment read: the good ones, and where the first damage is (its
    file, the record and byte) or the torn tail of the last."""

    directory: Path
    good: list[Segment] = field(default_factory=list)
    damage: tuple[Path, Damage] | None = None
    torn: tuple[Path, int, logformat.Torn] | None = None  # file, its first offset, the tear
    size: int = 0  # bytes of every segment file

    @property
    def first(self) -> int:
        return self.good[0].first if self.good else 0

    @property
    def end(self) -> int:
        """The offset after the last good record."""
        return self.good[-1].end if self.good else self.first

    def chain_of(self, record: int) -> bytes:
        """The chain hash of a good record (or of the one just before the first kept)."""
        for segment in self.good:
            if segment.first <= record + 1 <= segment.end:
                if record + 1 == segment.first:
                    return segment.previous
                if record + 1 == segment.end:
                    return segment.chain
                return _previous_in(segment, record + 1)
        raise KeyError(record)


def _previous_in(segment: Segment, offset: int) -> bytes:
    record, position = segment.near(offset)
    fd = os.open(segment.path, os.O_RDONLY)
    try:
        while True:
            length, previous = segments.record_header(fd, position)
            if record == offset:
                return previous
            record, position = record + 1, position + logformat.HEADER.size + length
    finally:
        os.close(fd)


def _read_log(path: Path) -> _Log:
    data = path.read_bytes()
    try:
        scanned = logformat.scan(data)
    except Damage as damage:
        good = logformat.scan(data[: damage.offset])  # every record before the damage is good
        return _Log(path, data, good.format, list(good.starts), damage.offset, damage, None)
    return _Log(path, data, scanned.format, list(scanned.starts), scanned.end, None, scanned.torn)


def _read_segments(directory: Path) -> _Segmented:
    """Every segment checked, in order, up to the first damage."""
    found = _Segmented(directory)
    firsts = sorted(_segment_firsts(directory))
    for number, first in enumerate(firsts):
        path = directory / segments.segment_name(first)
        fd = os.open(path, os.O_RDONLY)
        try:
            found.size += os.fstat(fd).st_size
            damage = _scan_into(found, path, fd, first, last=number == len(firsts) - 1)
        finally:
            os.close(fd)
        if damage is not None:
            found.damage = (path, damage)
            return found
    return found


def _scan_into(found: _Segmented, path: Path, fd: int, first: int, last: bool) -> Damage | None:
    expected = found.end if found.good else first
    if first != expected:
        return Damage(expected, 0, f"is missing: the next segment starts at record {first}")
    try:
        head, scanned = segments.scan_segment(path, fd, first)
    except Damage as damage:
        return damage
    if found.good and head.previous != found.good[-1].chain:
        return Damage(first, head.data_start, "does not follow the segment before (chain hash)")
    segment = Segment.scanned(path, head, scanned)
    found.good.append(segment)
    torn = scanned.torn
    if torn is not None:
        at = Damage(first + torn.record, torn.offset, torn.reason)
        if not last:
            return Damage(at.record, at.offset, f"{torn.reason}, and later segments follow it")
        found.torn = (path, first, torn)
    return None


def _segment_firsts(directory: Path) -> list[int]:
    suffix = segments.SEGMENT_SUFFIX
    return [
        int(name[: -len(suffix)])
        for name in os.listdir(directory)
        if name.endswith(suffix) and name[: -len(suffix)].isdigit()
    ]


def verify(data_dir: Path) -> Verdict:
    """Raises OSError when the log cannot be read."""
    single = data_dir / LOG_FILE
    directory = segments.segments_dir(single)
    if single.is_file() or not directory.is_dir():
        return _verify_single(data_dir, single)
    verdict = Verdict()
    say = verdict.lines.append
    log = _read_segments(directory)
    count = len(log.good) + (1 if log.damage else 0)
    say(f"{directory}: {count} segments, {log.size} bytes, the first at record {log.first}")
    if log.damage is not None:
        path, damage = log.damage
        verdict.damaged = True
        say(f"{path}: {damage}: a start refuses it")
        good = damage.record
        say(
            f"{directory}: records {log.first} to {good - 1} are good; `podium log repair "
            f"--data-dir {data_dir} --truncate-at {good}` keeps them and cuts the rest (a copy "
            "is kept)"
        )
    elif log.torn is not None:
        path, first, torn = log.torn
        say(
            f"{path}: {log.end - log.first} good records, then a torn last record: record "
            f"{first + torn.record} at byte {torn.offset} {torn.reason}; the next start cuts it"
        )
    else:
        say(f"{directory}: records {log.first} to {log.end - 1}, all good")
    bases = [name for name in os.listdir(directory) if name.endswith(segments.BASE_SUFFIX)]
    say(f"{directory}: {len(bases)} base snapshots")
    _verify_snapshot(data_dir / SNAPSHOT_FILE, log, verdict)
    return verdict


def _verify_single(data_dir: Path, path: Path) -> Verdict:
    verdict = Verdict()
    say = verdict.lines.append
    log = _read_log(path)
    records = len(log.starts)
    moved = "moved in as the first segment on the next start"
    upgraded = f" (upgraded to format 2 and {moved})" if log.format == FORMAT_1 else f" ({moved})"
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


def _verify_snapshot(path: Path, log: _Log | _Segmented, verdict: Verdict) -> None:
    if not path.exists():
        verdict.lines.append(f"{path}: none")
        return
    try:
        snapshot = decode_snapshot(path.read_bytes())
    except (OSError, zlib.error, msgspec.DecodeError) as exc:
        verdict.lines.append(f"{path}: unreadable ({exc}); a start folds the whole log instead")
        return
    covered = snapshot.next_offset
    first, end = (0, len(log.starts)) if isinstance(log, _Log) else (log.first, log.end)
    name = log.path if isinstance(log, _Log) else log.directory
    if covered > end:
        verdict.damaged = True
        verdict.lines.append(
            f"{path}: covers records up to {covered - 1}, but {name} has good records only "
            f"up to {end - 1}: the snapshot is ahead of the log"
        )
    elif covered < first:
        verdict.damaged = True
        verdict.lines.append(
            f"{path}: covers records up to {covered - 1}, but {name} starts at record {first}"
        )
    elif snapshot.chain and covered and snapshot.chain != log.chain_of(covered - 1):
        verdict.damaged = True
        verdict.lines.append(
            f"{path}: does not match {name} at record {covered - 1}: their chain hashes differ"
        )
    else:
        checked = "chain hash matches" if snapshot.chain else "no chain hash to compare"
        verdict.lines.append(f"{path}: covers records up to {covered - 1}, {checked}")


def repair(data_dir: Path, truncate_at: int, now: Callable[[], float] = time.time) -> list[str]:
    """Cut the log so that records before `truncate_at` remain, after copying aside what is
    cut. Raises RepairRefused, or OSError."""
    single = data_dir / LOG_FILE
    directory = segments.segments_dir(single)
    segmented = not single.is_file() and directory.is_dir()
    lock = directory / "lock" if segmented else single
    fd = os.open(lock, os.O_RDWR | (os.O_CREAT if segmented else 0), 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RepairRefused(f"{single} is open in a running podium: stop it first") from None
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now()))
        if segmented:
            lines = _repair_segments(directory, truncate_at, stamp)
        else:
            lines = _repair_single(single, fd, truncate_at, stamp)
    finally:
        os.close(fd)
    if len(lines) > 1:
        snapshot = data_dir / SNAPSHOT_FILE
        if snapshot.exists() and _covers_more_than(snapshot, truncate_at):
            aside = snapshot.with_name(f"{snapshot.name}.before-repair-{stamp}")
            os.replace(snapshot, aside)
            lines.append(f"{snapshot}: covered records that were cut: moved to {aside}")
    return lines


def _repair_single(path: Path, fd: int, truncate_at: int, stamp: str) -> list[str]:
    log = _read_log(path)
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
    backup = log.path.with_name(f"{log.path.name}.before-repair-{stamp}")
    shutil.copyfile(log.path, backup)
    _fsync(backup)
    os.ftruncate(fd, cut_at)
    os.fsync(fd)
    return [
        f"{log.path}: copied to {backup}",
        f"{log.path}: cut at byte {cut_at}: records 0 to {truncate_at - 1} kept, "
        f"{len(log.data) - cut_at} bytes removed",
    ]


def _repair_segments(directory: Path, truncate_at: int, stamp: str) -> list[str]:
    log = _read_segments(directory)
    first = log.first
    end = log.damage[1].record if log.damage else log.end
    if not first <= truncate_at <= end:
        where = f"damaged at record {end}" if log.damage else f"has records {first} to {end - 1}"
        raise RepairRefused(
            f"{directory} {where}: --truncate-at takes a record from {first} to {end}, "
            f"not {truncate_at}"
        )
    if truncate_at == log.end and log.damage is None and log.torn is None:
        return [f"{directory}: records {first} to {end - 1}, all good: nothing to cut"]
    firsts = sorted(_segment_firsts(directory))
    keep = max(f for f in firsts if f <= truncate_at)
    cut = [f for f in firsts if f >= keep]
    aside = directory.with_name(f"{directory.name}.before-repair-{stamp}")
    aside.mkdir()
    for segment_first in cut:
        name = segments.segment_name(segment_first)
        shutil.copyfile(directory / name, aside / name)
        _fsync(aside / name)
    kept = directory / segments.segment_name(keep)
    cut_at = _start_of(kept, keep, truncate_at)
    for segment_first in cut:
        path = directory / segments.segment_name(segment_first)
        segments.index_path(path).unlink(missing_ok=True)
        if segment_first != keep:
            path.unlink()
    fd = os.open(kept, os.O_RDWR)
    try:
        os.ftruncate(fd, cut_at)
        os.fsync(fd)
    finally:
        os.close(fd)
    for name in os.listdir(directory):
        if name.endswith(segments.BASE_SUFFIX) and int(name.split("-")[0]) > truncate_at:
            os.replace(directory / name, aside / name)
    _fsync(directory)
    return [
        f"{directory}: segments from record {keep} on copied to {aside}",
        f"{directory}: cut at record {truncate_at} (byte {cut_at} of {kept.name}): records "
        f"{first} to {truncate_at - 1} kept",
    ]


def _start_of(path: Path, first: int, offset: int) -> int:
    """Where record `offset` starts in the segment file at `path` (the records before it are
    good: they are walked header by header)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            position = segments.header_of(path, fd, first).data_start
        except Damage:
            return 0  # a segment whose header is damaged: cut whole (a start writes it again)
        for _ in range(offset - first):
            length, _ = segments.record_header(fd, position)
            position += logformat.HEADER.size + length
        return position
    finally:
        os.close(fd)


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


__all__ = ["NO_CHAIN", "RepairRefused", "Verdict", "repair", "verify"]
