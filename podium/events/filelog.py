"""The embedded event log: one append-only file of checksummed, length-prefixed batches.

Record layout: a 4-byte big-endian payload length, a 4-byte CRC-32 of length and payload, then the
msgpack payload (one batch of events). Each append is written and fsynced before it returns. On
open the whole file is checked: a bad record at the very end is a torn write and is cut off, a
bad record followed by good ones is corruption and refuses to open.
"""

from __future__ import annotations

import asyncio
import os
import struct
import zlib
from array import array
from collections.abc import AsyncGenerator, Sequence
from pathlib import Path
from typing import Final

from podium.events.codec import decode_batch, encode_batch
from podium.events.model import Event
from podium.events.ports import Head, LogCorrupted, LogUnavailable, Record

_HEADER: Final = struct.Struct(">II")
_READ_CHUNK_BYTES: Final = 4 * 1024 * 1024
_CLOSED: Final = Record(-1, [])


def frame(payload: bytes) -> bytes:
    length = len(payload)
    crc = zlib.crc32(payload, zlib.crc32(length.to_bytes(4, "big")))
    return _HEADER.pack(length, crc) + payload


def scan(data: bytes | memoryview) -> tuple[array[int], int]:
    """Record start offsets and the length of the valid prefix. Raises LogCorrupted."""
    view = memoryview(data)
    starts: array[int] = array("Q")
    pos, size = 0, len(view)
    while pos < size:
        end = _check_record(view, pos)
        if end is None:
            if _is_tail(view, pos):
                break
            raise LogCorrupted(f"record {len(starts)} at byte {pos} fails its checksum")
        starts.append(pos)
        pos = end
    return starts, pos


def _check_record(view: memoryview, pos: int) -> int | None:
    """The end of the record at `pos`, or None if it is incomplete or fails its checksum."""
    if pos + _HEADER.size > len(view):
        return None
    length: int
    crc: int
    length, crc = _HEADER.unpack_from(view, pos)
    end = pos + _HEADER.size + length
    if end > len(view):
        return None
    body = view[pos + _HEADER.size : end]
    if zlib.crc32(body, zlib.crc32(length.to_bytes(4, "big"))) != crc:
        return None
    return end


def _is_tail(view: memoryview, pos: int) -> bool:
    """A bad record is a torn write when nothing valid can follow it: it reaches the end of the
    file, or everything after it is zero filling (preallocated blocks after a crash)."""
    if pos + _HEADER.size > len(view):
        return True
    length, _ = _HEADER.unpack_from(view, pos)
    if pos + _HEADER.size + length >= len(view):
        return True
    return not any(view[pos:])


class FileEventLog:
    """Open with `await FileEventLog.open(path)`; one instance per file and process."""

    def __init__(self, path: Path, fd: int, starts: array[int], size: int, fsync: bool) -> None:
        self.path = path
        self._fd = fd
        self._starts = starts
        self._size = size
        self._fsync = fsync
        self._lock = asyncio.Lock()
        self._subscribers: set[asyncio.Queue[Record]] = set()
        self._closed = False

    @classmethod
    async def open(cls, path: Path, *, fsync: bool = True) -> FileEventLog:
        return await asyncio.to_thread(cls._open, path, fsync)

    @classmethod
    def _open(cls, path: Path, fsync: bool) -> FileEventLog:
        path.parent.mkdir(parents=True, exist_ok=True)
        created = not path.exists()
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            data = _read_all(fd)
            starts, valid = scan(data)
            if valid < len(data):
                os.ftruncate(fd, valid)
                os.fsync(fd)
            if created:
                _fsync_dir(path.parent)
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd, starts, valid, fsync)

    async def head(self) -> Head:
        return Head(offset=len(self._starts))

    async def append(self, batch: Sequence[Event]) -> None:
        if self._closed:
            raise LogUnavailable("the log is closed")
        record = frame(encode_batch(batch))
        async with self._lock:
            start = self._size
            try:
                await asyncio.to_thread(self._write, record, start)
            except OSError as exc:
                raise LogUnavailable(f"{len(batch)} events not written to {self.path}") from exc
            self._size = start + len(record)
            offset = len(self._starts)
            self._starts.append(start)
            published = Record(offset, list(batch))
            for queue in self._subscribers:
                queue.put_nowait(published)

    def _write(self, record: bytes, start: int) -> None:
        try:
            written = os.pwrite(self._fd, record, start)
            if written != len(record):
                raise OSError(f"short write: {written} of {len(record)} bytes")
            if self._fsync:
                os.fdatasync(self._fd)
        except OSError:
            os.ftruncate(self._fd, start)  # leave no half record behind a failed append
            raise

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
            (length, _) = _HEADER.unpack_from(view, pos)
            body = view[pos + _HEADER.size : pos + _HEADER.size + length]
            records.append(Record(offset, decode_batch(body)))
        return records

    async def close(self) -> None:
        if self._closed:
            return
        async with self._lock:
            self._closed = True
            for queue in self._subscribers:
                queue.put_nowait(_CLOSED)
            os.close(self._fd)


def _read_all(fd: int) -> bytes:
    size = os.fstat(fd).st_size
    return os.pread(fd, size, 0) if size else b""


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
