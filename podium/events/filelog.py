"""The embedded event log: one append-only file of checksummed, hash-chained records, one batch of
events each (the format is `logformat`'s).

Each append is written and fsynced before it returns. An append that fails (a full disk, an I/O
error) is rolled back: the file is cut back to the last good record and nothing in memory
changes, so the batch is not recorded and never will be; the log says it is failing (`failure`)
until a write succeeds again, and checks for itself every second in the meantime.

On open the whole file is checked. A damaged last record with nothing valid after it is a torn
write and is cut off (logged at warning); damage anywhere else raises LogCorrupted and leaves the
file as it is. A format-1 log (written before) is upgraded on open: its records are written
again as format 2 to a new file that replaces it, and the original is kept beside it as
`<name>.v1`, so appends never mix formats in one file.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import os
from collections.abc import AsyncGenerator, Sequence
from pathlib import Path
from typing import Final

import structlog

from podium.events import logformat
from podium.events.codec import decode_batch, encode_batch
from podium.events.logformat import FORMAT_1, MAX_RECORD_BYTES, Damage, Scanned
from podium.events.model import Event
from podium.events.ports import Head, LogCorrupted, LogUnavailable, Record

log = structlog.get_logger(__name__)

LOG_FILE: Final = "events.log"  # its name in a data dir
_READ_CHUNK_BYTES: Final = 4 * 1024 * 1024
_CLOSED: Final = Record(-1, [])
_PROBE_S: Final = 1.0  # while appends fail, how often the log checks whether it can write again


class _NotRolledBack(OSError):
    """A failed append whose bytes could not be cut off again: they may still be read back."""


def corrupted(path: Path, damage: Damage) -> LogCorrupted:
    return LogCorrupted(f"{path}: {damage}; the file is left as it is (see podium log verify)")


class FileEventLog:
    """Open with `await FileEventLog.open(path)`; one instance per file and process."""

    def __init__(self, path: Path, fd: int, scanned: Scanned, fsync: bool) -> None:
        self.path = path
        self._fd = fd
        self._starts = scanned.starts
        self._size = scanned.end
        self._chain = scanned.chain
        self._fsync = fsync
        self._lock = asyncio.Lock()
        self._subscribers: set[asyncio.Queue[Record]] = set()
        self._closed = False
        self.failure = ""  # why appends fail now; empty while they succeed
        self._probe: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, path: Path, *, fsync: bool = True) -> FileEventLog:
        """Raises LogCorrupted, LogUnavailable when another process has it open, or OSError
        when the file cannot be read or upgraded."""
        return await asyncio.to_thread(cls._open, path, fsync)

    @classmethod
    def _open(cls, path: Path, fsync: bool) -> FileEventLog:
        path.parent.mkdir(parents=True, exist_ok=True)
        created = not path.exists()
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            _lock(fd, path)
            data = _read_all(fd)
            try:
                scanned = logformat.scan(data)
            except Damage as damage:
                raise corrupted(path, damage) from None  # the damage is the news, not a cause
            if scanned.torn is not None:
                log.warning(
                    "torn last record cut off",
                    path=str(path),
                    record=scanned.torn.record,
                    offset=scanned.torn.offset,
                    reason=scanned.torn.reason,
                    bytes=len(data) - scanned.end,
                )
            if scanned.format == FORMAT_1:
                os.close(fd)
                fd = -1
                fd, scanned = _upgrade(path, data)
                _lock(fd, path)
            elif scanned.end < len(data):
                os.ftruncate(fd, scanned.end)
                os.fsync(fd)
            if created:
                _fsync_dir(path.parent)
        except BaseException:
            if fd >= 0:
                os.close(fd)
            raise
        return cls(path, fd, scanned, fsync)

    async def head(self) -> Head:
        return Head(offset=len(self._starts))

    def chain_hash(self) -> bytes:
        """The chain hash of the last record: what the next one will carry as its previous."""
        return self._chain

    async def check_snapshot(self, snapshot: Path, next_offset: int, chain: bytes) -> None:
        """Raises LogCorrupted unless a snapshot covering the records below `next_offset`, the
        last of which has `chain` as its chain hash (empty: not known), fits this log."""
        records = len(self._starts)
        if next_offset > records:
            raise LogCorrupted(
                f"{snapshot}: covers records up to {next_offset - 1}, but {self.path} ends at "
                f"byte {self._size} after record {records - 1}: the snapshot is ahead of the "
                "log; both are left as they are (see podium log verify)"
            )
        if not chain or next_offset == 0:
            return
        ours = await asyncio.to_thread(self._chain_of, next_offset - 1)
        if ours != chain:
            raise LogCorrupted(
                f"{snapshot}: does not match {self.path} at record {next_offset - 1} (byte "
                f"{self._starts[next_offset - 1]}): their chain hashes differ; both are left "
                "as they are (see podium log verify)"
            )

    def _chain_of(self, offset: int) -> bytes:
        """The chain hash of record `offset`, as the record after it carries it."""
        if offset + 1 == len(self._starts):
            return self._chain
        header = os.pread(self._fd, logformat.HEADER.size, self._starts[offset + 1])
        previous: bytes = logformat.HEADER.unpack(header)[3]
        return previous

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
            start = self._size
            try:
                record, chain = logformat.encode(payload, self._chain)
                await asyncio.to_thread(self._write, record, start)
            except OSError as exc:
                self._failing(exc)
                raise LogUnavailable(
                    f"{len(batch)} events not written to {self.path}: {exc.strerror or exc}",
                    sent=isinstance(exc, _NotRolledBack),
                ) from exc
            self.failure = ""
            self._size = start + len(record)
            self._chain = chain
            offset = len(self._starts)
            self._starts.append(start)
            published = Record(offset, list(batch), chain=chain)
            for queue in self._subscribers:
                queue.put_nowait(published)

    def _write(self, record: bytes, start: int) -> None:
        try:
            _pwrite_all(self._fd, record, start)  # a short write goes on to the real error
            if self._fsync:
                os.fdatasync(self._fd)
        except OSError as exc:
            try:
                os.ftruncate(self._fd, start)  # leave no part of a failed append behind
            except OSError as cut:
                raise _NotRolledBack(f"{exc}; not cut back: {cut}") from exc
            raise

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
                    await asyncio.to_thread(self._try_to_grow)
                except OSError:
                    continue
                self.failure = ""
                log.info("appends possible again", path=str(self.path))

    def _try_to_grow(self) -> None:
        try:
            os.posix_fallocate(self._fd, self._size, 64 * 1024)
        finally:
            os.ftruncate(self._fd, self._size)

    async def subscribe(self, from_offset: int) -> AsyncGenerator[Record, None]:
        queue: asyncio.Queue[Record] = asyncio.Queue()
        self._subscribers.add(queue)
        try:
            offset = from_offset
            while offset < len(self._starts) and not self._closed:
                # Records appended while we read land in `queue` too; they are skipped below.
                chunk = await asyncio.to_thread(self._read_chunk, offset, len(self._starts))
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
        """Decode records from `first` up to at most `_READ_CHUNK_BYTES` (at least one record)."""
        starts = self._starts
        start = starts[first]
        last = first + 1
        while last < end and starts[last] - start < _READ_CHUNK_BYTES:
            last += 1
        stop = starts[last] if last < len(starts) else self._size
        view = memoryview(os.pread(self._fd, stop - start, start))
        records = []
        for offset in range(first, last):
            pos = starts[offset] - start
            payload = logformat.payload_at(view, pos)
            whole = view[pos : payload.nbytes + (pos + logformat.HEADER.size)]
            records.append(Record(offset, decode_batch(payload), chain=logformat.chain_hash(whole)))
        return records

    async def close(self) -> None:
        if self._closed:
            return
        async with self._lock:
            self._closed = True
            for queue in self._subscribers:
                queue.put_nowait(_CLOSED)
            os.close(self._fd)
        if self._probe is not None:
            self._probe.cancel()


def _upgrade(path: Path, data: bytes) -> tuple[int, Scanned]:
    """Replace a format-1 log by the same records in format 2, keeping the original beside it.
    The new file is complete on disk before it takes the log's name (one rename)."""
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
        _fsync_dir(path.parent)
    except BaseException:
        os.close(fd)
        raise
    log.warning(
        "format-1 log upgraded to format 2",
        path=str(path),
        records=len(scanned.starts),
        original=str(backup),
    )
    return fd, scanned


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
    size = os.fstat(fd).st_size
    return os.pread(fd, size, 0) if size else b""


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
