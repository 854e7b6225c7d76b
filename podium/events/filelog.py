"""The embedded event log: append-only segment files of checksummed, hash-chained records, one
batch of events each (the format is `logformat`'s, the files `segments`').

Each append is written and fsynced before it returns. An append that fails (a full disk, an I/O
error) is rolled back: the file is cut back to the last good record and nothing in memory
changes, so the batch is not recorded and never will be; the log says it is failing (`failure`)
until a write succeeds again, and checks for itself every second in the meantime.

Once the segment appended to holds `segment_bytes`, the next append starts a new one (a header
naming its first offset and the chain hash before it), after sealing the full one (fsynced, with
its index). Offsets run on across segments; the oldest segments may be deleted
(`delete_before`), never the last.

On open, sealed segments are trusted through their indexes (their size, header and chain link
to the next are checked; a segment without a good index is read and checked a window at a
time), and the last segment is checked record by record, a window at a time. A damaged last
record of the last segment with nothing valid after it is a torn write and is cut off (logged at
warning); damage anywhere else raises LogCorrupted and leaves the files as they are. A read
checks each record's checksum again, so damage inside a sealed segment that no open looked at
stops the reader (LogCorrupted) instead of being folded.

A single-file log (`events.log`, written before segments) becomes the first segment on open:
checked, a torn tail cut, then moved into the directory as it is (a format-1 log is first
upgraded to format 2 as before, the original kept as `events.log.v1`).
"""

from __future__ import annotations

import asyncio
import bisect
import errno
import fcntl
import hashlib
import os
import zlib
from collections.abc import AsyncGenerator, Sequence
from pathlib import Path
from typing import Final

import structlog

from podium.events import logformat, segments
from podium.events.codec import decode_batch, encode_batch
from podium.events.crashpoints import crash_point
from podium.events.logformat import HEADER, MAX_RECORD_BYTES, NO_CHAIN, Damage, Scanned
from podium.events.model import Event
from podium.events.ports import Head, LogCorrupted, LogTruncated, LogUnavailable, Record
from podium.events.segments import STRIDE, Base, Segment

log = structlog.get_logger(__name__)

LOG_FILE: Final = "events.log"  # its name in a data dir (the segments are in events.log.d/)
SEGMENT_BYTES: Final = 64 * 1024 * 1024  # a segment this full is sealed and a new one started
_READ_CHUNK_BYTES: Final = 4 * 1024 * 1024
_CLOSED: Final = Record(-1, [])
_PROBE_S: Final = 1.0  # while appends fail, how often the log checks whether it can write again
_LOCK_FILE: Final = "lock"


class _NotRolledBack(OSError):
    """A failed append whose bytes could not be cut off again: they may still be read back."""


def log_exists(path: Path) -> bool:
    """Whether there is a log named `path`: its segments, or a single file from before them."""
    return path.is_file() or segments.segments_dir(path).is_dir()


def corrupted(path: Path, damage: Damage) -> LogCorrupted:
    return LogCorrupted(f"{path}: {damage}; the file is left as it is (see podium log verify)")


class FileEventLog:
    """Open with `await FileEventLog.open(path)`; one instance per log and process. `path` names
    the log (`<data dir>/events.log`); its segments are in `segments.segments_dir(path)`."""

    def __init__(
        self,
        path: Path,
        lock_fd: int,
        fd: int,
        found: list[Segment],
        bases: list[Base],
        fsync: bool,
        segment_bytes: int,
    ) -> None:
        self.path = path
        self.directory = segments.segments_dir(path)
        self._lock_fd = lock_fd
        self._fd = fd  # the last segment's, open for appending
        self._segments = found
        self._firsts = [segment.first for segment in found]
        self._next = found[-1].end
        self._chain = found[-1].chain
        self._bases = bases
        self._fsync = fsync
        self._segment_bytes = segment_bytes
        self._lock = asyncio.Lock()
        self._subscribers: set[asyncio.Queue[Record]] = set()
        self._closed = False
        self.failure = ""  # why appends fail now; empty while they succeed
        # A failed append could not be cut back: its bytes may hold a whole record, which the
        # next open would read. Until an append overwrites it or the probe cuts it, the end of
        # the log is not known.
        self._uncut = False
        self._probe: asyncio.Task[None] | None = None

    @classmethod
    async def open(
        cls, path: Path, *, fsync: bool = True, segment_bytes: int = SEGMENT_BYTES
    ) -> FileEventLog:
        """Raises LogCorrupted, LogUnavailable when another process has it open, or OSError
        when a file cannot be read, upgraded or moved."""
        return await asyncio.to_thread(cls._open, path, fsync, segment_bytes)

    @classmethod
    def _open(cls, path: Path, fsync: bool, segment_bytes: int = SEGMENT_BYTES) -> FileEventLog:
        directory = segments.segments_dir(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not directory.is_dir():
            directory.mkdir()
            fsync_dir(path.parent)
        lock_fd = os.open(directory / _LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        fd = -1
        try:
            _lock(lock_fd, path)
            firsts, bases = segments.listing(directory)
            if path.is_file():
                if firsts:
                    raise LogCorrupted(
                        f"{path}: a single-file log beside the segments of {directory}: "
                        "move one of them away; both are left as they are"
                    )
                if _move_in(path, directory):
                    firsts = [0]
            if not firsts:
                _create_segment(directory, 0, NO_CHAIN)
                firsts = [0]
            found, fd = _check(directory, firsts)
        except BaseException:
            if fd >= 0:
                os.close(fd)
            os.close(lock_fd)
            raise
        for stale in [base for base in bases if base.offset < found[0].first]:
            (directory / stale.name).unlink()  # its records are gone: no rebuild can use it
            bases.remove(stale)
        return cls(path, lock_fd, fd, found, bases, fsync, segment_bytes)

    @property
    def first_offset(self) -> int:
        """The offset of the oldest record the log still holds (0 until segments are deleted)."""
        return self._segments[0].first

    def segments(self) -> list[tuple[int, int]]:
        """Each segment's records [first, end), oldest first; the last is appended to."""
        return [(segment.first, segment.end) for segment in self._segments]

    def bases(self) -> list[Base]:
        return list(self._bases)

    async def head(self) -> Head:
        """Raises LogUnavailable while a failed append could not be cut back."""
        if self._uncut:
            raise LogUnavailable(
                f"the end of {self.directory} is not known: {self.failure}", sent=False
            )
        return Head(offset=self._next)

    def chain_hash(self) -> bytes:
        """The chain hash of the last record: what the next one will carry as its previous."""
        return self._chain

    async def check_snapshot(self, snapshot: Path, next_offset: int, chain: bytes) -> None:
        """Raises LogCorrupted unless a snapshot covering the records below `next_offset`, the
        last of which has `chain` as its chain hash (empty: not known), fits this log."""
        records = self._next
        if next_offset > records:
            raise LogCorrupted(
                f"{snapshot}: covers records up to {next_offset - 1}, but {self.path} ends "
                f"after record {records - 1}: the snapshot is ahead of the log; both are left "
                "as they are (see podium log verify)"
            )
        if next_offset < self.first_offset:
            raise LogCorrupted(
                f"{snapshot}: covers records up to {next_offset - 1}, but {self.path} starts "
                f"at record {self.first_offset} (older segments were deleted): the records "
                "after the snapshot are gone; both are left as they are"
            )
        if not chain or next_offset == 0:
            return
        ours = await asyncio.to_thread(self._chain_of, next_offset - 1)
        if ours != chain:
            raise LogCorrupted(
                f"{snapshot}: does not match {self.path} at record {next_offset - 1}: their "
                "chain hashes differ; both are left as they are (see podium log verify)"
            )

    def _chain_of(self, offset: int) -> bytes:
        """The chain hash of record `offset`, as the record after it carries it."""
        following = offset + 1
        if following == self._next:
            return self._chain
        segment = self._segment_of(following)
        if following == segment.first:
            return segment.previous
        return self._previous_of(segment, following)

    def _segment_of(self, offset: int) -> Segment:
        found = self._segments  # one list: a deletion replaces it whole
        index = bisect.bisect_right(self._firsts, offset) - 1
        if index < 0 or offset < found[0].first:
            raise LogTruncated(
                f"{self.path}: record {offset} is gone (the log starts at {found[0].first})"
            )
        return found[index]

    def _previous_of(self, segment: Segment, offset: int) -> bytes:
        record, position = segment.near(offset)
        with _Reading(segment) as fd:
            while True:
                length, previous = segments.record_header(fd, position)
                if record == offset:
                    return previous
                record, position = record + 1, position + HEADER.size + length

    async def append(self, batch: Sequence[Event]) -> None:
        """Raises LogUnavailable, with `sent` False once the failed append is rolled back (it
        is True only if cutting the file back failed too)."""
        if self._closed:
            raise LogUnavailable("the log is closed", sent=False)
        payload = encode_batch(batch)
        if len(payload) > MAX_RECORD_BYTES:
            raise LogUnavailable(
                f"{len(batch)} events take {len(payload)} bytes, above the {MAX_RECORD_BYTES} "
                "of one record",
                sent=False,
            )
        async with self._lock:
            segment = self._segments[-1]
            try:
                if segment.records and segment.size >= self._segment_bytes:
                    segment = await asyncio.to_thread(self._roll)
                start = segment.size
                record, chain = logformat.encode(payload, self._chain)
                await asyncio.to_thread(self._write, record, start, self._uncut)
            except OSError as exc:
                self._uncut = self._uncut or isinstance(exc, _NotRolledBack)
                self._failing(exc)
                raise LogUnavailable(
                    f"{len(batch)} events not written to {self.directory}: {exc.strerror or exc}",
                    sent=isinstance(exc, _NotRolledBack),
                ) from exc
            self.failure, self._uncut = "", False  # written over from where it began
            if segment.records % STRIDE == 0:
                segment.starts.append(start)
            segment.records += 1
            segment.size = start + len(record)
            segment.chain = self._chain = chain
            offset = self._next
            self._next = offset + 1
            published = Record(offset, list(batch), chain=chain)
            for queue in self._subscribers:
                queue.put_nowait(published)

    def _write(self, record: bytes, start: int, uncut: bool = False) -> None:
        """`uncut`: a failed append left bytes from `start` on, maybe more than this record
        covers: they go, or a later roll would seal them into the segment."""
        try:
            _pwrite_all(self._fd, record, start)  # a short write goes on to the real error
            if uncut:
                os.ftruncate(self._fd, start + len(record))
            if self._fsync:
                os.fdatasync(self._fd)
        except OSError as exc:
            try:
                os.ftruncate(self._fd, start)  # leave no part of a failed append behind
            except OSError as cut:
                raise _NotRolledBack(f"{exc}; not cut back: {cut}") from exc
            raise

    def _roll(self) -> Segment:
        """Seal the last segment (fsynced, indexed) and start the next. Raises OSError, having
        changed nothing that matters: a new segment not yet in use is removed again, and an
        index beside the last segment is ignored (and rewritten) until it is sealed."""
        sealed = self._segments[-1]
        os.fsync(self._fd)
        crash_point("roll-sealed")
        _write_file(segments.index_path(sealed.path), segments.encode_index(sealed))
        crash_point("roll-indexed")
        fd = _create_segment(self.directory, self._next, self._chain)
        crash_point("roll-created")
        started = Segment(
            self.directory / segments.segment_name(self._next),
            self._next,
            self._chain,
            logformat.SEGMENT_HEADER.size,
            0,
            logformat.SEGMENT_HEADER.size,
            self._chain,
            segments.array_of(),
        )
        os.close(self._fd)
        self._fd = fd
        self._firsts = [*self._firsts, started.first]
        self._segments = [*self._segments, started]
        log.info("log segment started", path=str(started.path), first=started.first)
        return started

    def _failing(self, error: OSError) -> None:
        self.failure = f"appends fail: {error.strerror or error}"
        log.error("append failed and rolled back", path=str(self.path), error=str(error))
        if self._probe is None or self._probe.done():
            self._probe = asyncio.get_running_loop().create_task(self._probe_until_writable())

    async def _probe_until_writable(self) -> None:
        """Clear `failure` once the file can grow again, even if nobody appends meanwhile."""
        while self.failure and not self._closed:
            await asyncio.sleep(_PROBE_S)
            async with self._lock:
                if self._closed or not self.failure:
                    return
                try:
                    await asyncio.to_thread(os.ftruncate, self._fd, self._segments[-1].size)
                    self._uncut = False  # cut back to its last record
                    await asyncio.to_thread(self._try_to_grow)
                except OSError:
                    continue
                self.failure = ""
                log.info("appends possible again", path=str(self.path))

    def _try_to_grow(self) -> None:
        size = self._segments[-1].size
        try:
            os.posix_fallocate(self._fd, size, 64 * 1024)
        finally:
            os.ftruncate(self._fd, size)

    async def subscribe(self, from_offset: int) -> AsyncGenerator[Record, None]:
        """Raises LogTruncated when `from_offset` is before the log's first record (deleted),
        LogCorrupted when a record read fails its checksum."""
        if from_offset < self.first_offset:
            raise LogTruncated(
                f"{self.path}: records from {from_offset} asked for, but the log starts at "
                f"record {self.first_offset} (older segments were deleted)"
            )
        queue: asyncio.Queue[Record] = asyncio.Queue()
        self._subscribers.add(queue)
        try:
            offset = from_offset
            while offset < self._next and not self._closed:
                # Records appended while we read land in `queue` too; they are skipped below.
                chunk = await asyncio.to_thread(self._read_chunk, offset, self._next)
                for record in chunk:
                    yield record
                offset += len(chunk)
            while not self._closed:
                record = await queue.get()
                if record is _CLOSED:
                    return
                if record.offset >= offset:
                    yield record
                    offset = record.offset + 1
        finally:
            self._subscribers.discard(queue)

    def _read_chunk(self, first: int, end: int) -> list[Record]:
        """Decode records from `first` on, up to `end`, the end of its segment or about
        `_READ_CHUNK_BYTES` (at least one record)."""
        segment = self._segment_of(first)
        stop = min(end, segment.end)
        size = segment.size
        record, position = segment.near(first)
        records: list[Record] = []
        read = 0
        with _Reading(segment) as fd:
            source = segments.file_source(fd, size)
            while record < stop and (not records or read < _READ_CHUNK_BYTES):
                header = source.view(position, HEADER.size)
                length = HEADER.unpack_from(header, 0)[1]
                whole = HEADER.size + length
                if record >= first:
                    records.append(self._decoded(segment, source, record, position, whole))
                    read += whole
                record, position = record + 1, position + whole
        return records

    def _decoded(
        self, segment: Segment, source: logformat.Source, record: int, position: int, size: int
    ) -> Record:
        whole = source.view(position, size)
        crc = HEADER.unpack_from(whole, 0)[2]
        payload = whole[HEADER.size :]
        if len(whole) < size or zlib.crc32(payload) != crc:
            raise LogCorrupted(
                f"{segment.path}: record {record} at byte {position} fails its checksum on "
                "reading; the file is left as it is (see podium log verify)"
            )
        return Record(record, decode_batch(payload), chain=hashlib.sha256(whole).digest())

    async def delete_before(self, offset: int) -> list[int]:
        """Delete the sealed segments whose records all precede `offset`, oldest first, and the
        bases older than the first segment left; return the first offsets of the segments
        deleted. The last segment is never deleted. Raises OSError (what was deleted stays
        deleted: the log then starts at the oldest segment left)."""
        async with self._lock:
            return await asyncio.to_thread(self._delete_before, offset)

    def _delete_before(self, offset: int) -> list[int]:
        doomed = [segment for segment in self._segments[:-1] if segment.end <= offset]
        deleted: list[int] = []
        for segment in doomed:
            crash_point("delete-segment")
            kept = self._segments[1:]
            self._segments, self._firsts = kept, [s.first for s in kept]  # readers first
            os.unlink(segment.path)
            segments.index_path(segment.path).unlink(missing_ok=True)
            deleted.append(segment.first)
        crash_point("delete-bases")
        first = self._segments[0].first
        for base in [base for base in self._bases if base.offset < min(offset, first)]:
            (self.directory / base.name).unlink(missing_ok=True)
            self._bases.remove(base)
        crash_point("delete-before-fsync")
        fsync_dir(self.directory)
        if deleted:
            log.info("log segments deleted", path=str(self.directory), firsts=deleted, now=first)
        return deleted

    def wants_base(self, offset: int) -> bool:
        """Whether a snapshot before record `offset` would be the first base taken in its
        segment (other than the first: nothing precedes it to delete)."""
        if offset <= self.first_offset or offset > self._next:
            return False
        segment = self._segment_of(offset - 1)
        if segment is self._segments[0]:
            return False
        return not any(segment.first < base.offset <= segment.end for base in self._bases)

    async def save_base(self, base: Base, data: bytes) -> None:
        """Keep an encoded snapshot as a base, durably (its file and the directory fsynced).
        Raises OSError."""
        await asyncio.to_thread(_write_file, self.directory / base.name, data, True)
        self._bases = sorted([*self._bases, base], key=lambda kept: kept.offset)

    def read_base(self, base: Base) -> bytes:
        """Raises OSError."""
        return (self.directory / base.name).read_bytes()

    async def close(self) -> None:
        if self._closed:
            return
        async with self._lock:
            self._closed = True
            for queue in self._subscribers:
                queue.put_nowait(_CLOSED)
            os.close(self._fd)
            os.close(self._lock_fd)
        if self._probe is not None:
            self._probe.cancel()


class _Reading:
    """The file of a segment, opened for one read (a roll may close the appender's meanwhile).
    Raises LogTruncated when the segment was deleted."""

    def __init__(self, segment: Segment) -> None:
        self._segment = segment
        self._fd = -1

    def __enter__(self) -> int:
        try:
            self._fd = os.open(self._segment.path, os.O_RDONLY)
        except FileNotFoundError:
            raise LogTruncated(
                f"{self._segment.path}: deleted while records {self._segment.first} to "
                f"{self._segment.end - 1} were being read"
            ) from None
        return self._fd

    def __exit__(self, *exc_info: object) -> None:
        if self._fd >= 0:
            os.close(self._fd)


def _check(directory: Path, firsts: list[int]) -> tuple[list[Segment], int]:
    """Every segment, checked: the sealed ones through their indexes (or read), the last one
    record by record, its torn tail cut. The last segment's descriptor, open for appending.
    Raises LogCorrupted."""
    found: list[Segment] = []
    for number, first in enumerate(firsts):
        path = directory / segments.segment_name(first)
        last = number == len(firsts) - 1
        fd = os.open(path, os.O_RDWR if last else os.O_RDONLY)
        try:
            segment = _last(path, fd, first, found) if last else _sealed(path, fd, first)
            if found:
                _follows(found[-1], segment)
        except BaseException:
            os.close(fd)
            raise
        found.append(segment)
        if last:
            return found, fd
        os.close(fd)
    raise AssertionError("no segment to check")


def _sealed(path: Path, fd: int, first: int) -> Segment:
    size = os.fstat(fd).st_size
    index = segments.index_path(path)
    try:
        known = segments.decode_index(path, index.read_bytes(), size)
    except FileNotFoundError:
        known = None
    if known is not None and known.first == first:
        try:
            head = segments.header_of(path, fd, first)
        except Damage as damage:
            raise corrupted(path, damage) from None
        if (head.previous, head.data_start) == (known.previous, known.data_start):
            return known
    try:
        head, scanned = segments.scan_segment(path, fd, first)
    except Damage as damage:
        raise corrupted(path, damage) from None
    if scanned.torn is not None:
        torn = scanned.torn
        raise LogCorrupted(
            f"{path}: record {first + torn.record} at byte {torn.offset} {torn.reason}, and "
            "later segments follow it: only the last segment may end in a torn record; the "
            "file is left as it is (see podium log verify)"
        )
    segment = Segment.scanned(path, head, scanned)
    try:
        _write_file(index, segments.encode_index(segment))
    except OSError as exc:  # an index only saves reading the segment again next time
        log.warning("segment index not written", path=str(index), error=str(exc))
    return segment


def _last(path: Path, fd: int, first: int, before: list[Segment]) -> Segment:
    previous = before[-1].chain if before else NO_CHAIN if first == 0 else None
    segments.index_path(path).unlink(missing_ok=True)  # appended to again: a stale index
    try:
        head, scanned = segments.scan_segment(path, fd, first)
    except Damage as damage:
        if damage.offset != 0 or previous is None or _holds_records(fd):
            raise corrupted(path, damage) from None
        # A segment whose header a crash cut short (it holds no record yet): written again.
        log.warning("torn segment header written again", path=str(path), reason=damage.reason)
        os.ftruncate(fd, 0)
        _pwrite_all(fd, logformat.encode_segment_header(first, previous), 0)
        os.fsync(fd)
        head, scanned = segments.scan_segment(path, fd, first)
    if scanned.torn is not None:
        _cut(path, fd, first, scanned)
    return Segment.scanned(path, head, scanned)


def _holds_records(fd: int) -> bool:
    return segments.file_source(fd, os.fstat(fd).st_size).valid_header_after(0)


def _cut(path: Path, fd: int, first: int, scanned: Scanned) -> None:
    torn = scanned.torn
    assert torn is not None
    size = os.fstat(fd).st_size
    log.warning(
        "torn last record cut off",
        path=str(path),
        record=first + torn.record,
        offset=torn.offset,
        reason=torn.reason,
        bytes=size - scanned.end,
    )
    os.ftruncate(fd, scanned.end)
    os.fsync(fd)


def _follows(before: Segment, segment: Segment) -> None:
    """Raises LogCorrupted unless `segment` starts where `before` ends, on its chain."""
    if segment.first != before.end:
        raise LogCorrupted(
            f"{segment.path}: starts at record {segment.first}, but {before.path} ends before "
            f"record {before.end}: a segment is missing or was changed; the files are left as "
            "they are (see podium log verify)"
        )
    if segment.previous != before.chain:
        raise LogCorrupted(
            f"{segment.path}: does not follow {before.path} (the chain hash before record "
            f"{segment.first} differs); the files are left as they are (see podium log verify)"
        )


def _move_in(path: Path, directory: Path) -> bool:
    """Make a single-file log the first segment: checked (a format-1 log upgraded first, a
    torn tail cut), then moved in by one rename. False when it was empty (it is removed).
    Raises LogCorrupted (the file left as it is) or OSError."""
    fd = os.open(path, os.O_RDWR)
    try:
        _lock(fd, path)
        size = os.fstat(fd).st_size
        if size and _format_1(fd, size):
            os.close(fd)
            fd = -1
            fd = _upgrade(path, os.open(path, os.O_RDONLY))
            size = os.fstat(fd).st_size
        if not size:
            os.unlink(path)
            fsync_dir(path.parent)
            return False
        try:
            _, scanned = segments.scan_segment(path, fd, 0)
        except Damage as damage:
            raise corrupted(path, damage) from None
        if scanned.torn is not None:
            _cut(path, fd, 0, scanned)
        crash_point("move-in")
        os.rename(path, directory / segments.segment_name(0))
        fsync_dir(directory)
        fsync_dir(path.parent)
    finally:
        if fd >= 0:
            os.close(fd)
    log.warning("single-file log moved in as the first segment", path=str(path), to=str(directory))
    return True


def _format_1(fd: int, size: int) -> bool:
    source = segments.file_source(fd, size)
    first = bytes(source.view(0, 4))
    return first != logformat.MAGIC and not source.valid_header_after(0)


def _upgrade(path: Path, fd: int) -> int:
    """Replace a format-1 log by the same records in format 2, keeping the original beside it;
    the new file's descriptor. The new file is complete on disk before it takes the log's name
    (one rename). A format-1 log is read whole: only logs from before issue 9 are."""
    try:
        data = _read_all(fd)
    finally:
        os.close(fd)
    try:
        upgraded, scanned = logformat.upgrade(data)
    except Damage as damage:
        raise corrupted(path, damage) from None
    backup = _free_name(path.with_name(path.name + ".v1"))
    temporary = path.with_name(path.name + ".upgrading")
    os.link(path, backup)
    fd = os.open(temporary, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        write_all(fd, upgraded)
        os.fsync(fd)
        os.replace(temporary, path)  # from here on the log is the upgraded file
    except BaseException:
        os.close(fd)
        temporary.unlink(missing_ok=True)
        os.unlink(backup)
        raise
    try:
        fsync_dir(path.parent)
    except BaseException:
        os.close(fd)
        raise
    log.warning(
        "format-1 log upgraded to format 2",
        path=str(path),
        records=scanned.count,
        original=str(backup),
    )
    return fd


def _create_segment(directory: Path, first: int, previous: bytes) -> int:
    """A new segment file holding its header alone, fsynced with its directory; its
    descriptor, open for appending."""
    path = directory / segments.segment_name(first)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        _pwrite_all(fd, logformat.encode_segment_header(first, previous), 0)
        os.fsync(fd)
        fsync_dir(directory)
    except BaseException:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    return fd


def _write_file(path: Path, data: bytes, durable: bool = False) -> None:
    """Write a whole file under its name by a rename (its directory fsynced too if `durable`).
    Raises OSError, leaving no temporary file."""
    temporary = path.with_name(path.name + segments.TEMPORARY_SUFFIX)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        write_all(fd, data)
        os.fsync(fd)
    except OSError:
        os.close(fd)
        temporary.unlink(missing_ok=True)
        raise
    os.close(fd)
    os.replace(temporary, path)
    if durable:
        fsync_dir(path.parent)


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        if not written:
            raise OSError(errno.EIO, "the file takes no more bytes")
        view, offset = view[written:], offset + written


def write_all(fd: int, data: bytes) -> None:
    """os.write, until all of `data` is written. Raises OSError."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _free_name(path: Path) -> Path:
    candidate, number = path, 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.name}.{number}")
    return candidate


def _lock(fd: int, path: Path) -> None:
    """One process per log: two appending to one file would interleave their records."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise LogUnavailable(f"{path} is in use by another podium process", sent=False) from None


def _read_all(fd: int) -> bytes:
    """The whole file. One pread returns at most 2 GiB on Linux: read until the size is reached."""
    size = os.fstat(fd).st_size
    parts: list[bytes] = []
    done = 0
    while done < size:
        part = os.pread(fd, min(size - done, _READ_CHUNK_BYTES), done)
        if not part:
            raise OSError(errno.EIO, f"the file ended at byte {done} of {size} while read")
        parts.append(part)
        done += len(part)
    return b"".join(parts)


def fsync_dir(directory: Path) -> None:
    """Make the names in `directory` durable (a rename, a new or deleted file). Raises OSError."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
