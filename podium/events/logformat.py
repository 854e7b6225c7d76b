"""The embedded log's bytes: how a record is framed, and how a file is checked. Pure: no I/O.

Format 2 (every log created by this version). A record is a 48-byte header, then its payload
(one msgpack batch of events):

    magic 4 bytes (b"\\xc7PL2") | payload length 4 | payload CRC-32 4 | previous record's chain
    hash 32 | CRC-32 of the 44 header bytes before it 4 | payload

All integers are big-endian. A record's chain hash is the SHA-256 of its header and payload, and
the next record carries it, so each record names the one before it (the first names 32 zero
bytes): the log is a hash chain that an auditor can follow record by record.

Format 1 (logs written before): a 4-byte payload length, a CRC-32 of length and payload, the
payload; no magic, no header check, no chain. A file is one format: the first four bytes tell
which, since a format-1 length can never read as the format-2 magic (it would exceed
`MAX_RECORD_BYTES`). `upgrade` turns a format-1 file into format 2, record for record.

Segments (`filelog` writes the log as a directory of them): a segment file starts with a
48-byte segment header, then format-2 records:

    magic 4 bytes (b"\\xc7PS2") | offset of its first record 8 | chain hash of the record
    before it 32 (zero bytes before the first record of a log) | CRC-32 of the 44 bytes before 4

so a segment can be checked without the ones before it, and the chain runs on across segments.
A file without the header (a single-file log from before segments, moved in as the first
segment) holds records from its byte 0, after offset 0 and the zero chain hash.

Records are numbered from 0 in file order, as the log's offsets are (in a segment, from the
offset its header names).

Checking a file (`scan`): only a damaged *last* record, with nothing valid after it, is a torn
tail (a write cut short by a crash, perhaps followed by zero-filled blocks) and may be cut.
Anything else raises `Damage` naming the record and the byte where it is.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

FORMAT_1: Final = 1
FORMAT_2: Final = 2
MAGIC: Final = b"\xc7PL2"
MAX_RECORD_BYTES: Final = 256 * 1024 * 1024  # a payload above this is damage, never a tail
NO_CHAIN: Final = bytes(32)  # what the first record names as its predecessor

_HEAD: Final = struct.Struct(">4sII32s")  # the header bytes its own CRC covers
HEADER: Final = struct.Struct(">4sII32sI")
_V1_HEADER: Final = struct.Struct(">II")
SEGMENT_MAGIC: Final = b"\xc7PS2"
_SEGMENT_HEAD: Final = struct.Struct(">4sQ32s")  # the segment header bytes its own CRC covers
SEGMENT_HEADER: Final = struct.Struct(">4sQ32sI")
WINDOW_BYTES: Final = 4 * 1024 * 1024  # what a `Source` reads of a file at a time


class Damage(Exception):
    """Raised by `scan` for damage that is not a torn tail: the file must not be cut."""

    def __init__(self, record: int, offset: int, reason: str) -> None:
        super().__init__(f"record {record} at byte {offset} {reason}")
        self.record = record
        self.offset = offset
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Torn:
    """A damaged last record with nothing valid after it: cut at `offset`."""

    record: int
    offset: int
    reason: str


@dataclass(frozen=True, slots=True)
class Scanned:
    """What `scan` found: how many good records, where every `stride`-th starts (all of them
    with a stride of 1), where the good prefix ends, the chain hash of its last record, and the
    torn tail after it, if any."""

    format: int
    starts: array[int]
    end: int
    chain: bytes
    torn: Torn | None
    records: int = -1  # -1: len(starts)
    stride: int = 1

    @property
    def count(self) -> int:
        return len(self.starts) if self.records < 0 else self.records


@dataclass(frozen=True, slots=True)
class SegmentHead:
    """A segment's header: the offset of its first record and the chain hash before it, and
    where its records start in the file (0 for a headerless first segment)."""

    first: int
    previous: bytes
    data_start: int


class Source:
    """A file's bytes, read `WINDOW_BYTES` at a time through `read(position, count)`: checking
    a file holds a window (or the one record larger than it) in memory, never the whole file."""

    def __init__(self, read: Callable[[int, int], bytes], size: int) -> None:
        self.size = size
        self._read = read
        self._buffer = memoryview(b"")
        self._at = 0

    @classmethod
    def of(cls, data: bytes) -> Source:
        source = cls(lambda position, count: data[position : position + count], len(data))
        source._buffer = memoryview(data)
        return source

    def view(self, position: int, count: int) -> memoryview:
        """Bytes [position, position + count), fewer at the end of the file."""
        offset = position - self._at
        end = min(position + count, self.size)
        if offset < 0 or end - self._at > len(self._buffer):
            self._buffer = memoryview(self._read(position, max(count, WINDOW_BYTES)))
            self._at, offset = position, 0
        return self._buffer[offset : offset + count]

    def valid_header_after(self, position: int) -> bool:
        """Whether a record header that checks starts anywhere at or after `position`."""
        step = WINDOW_BYTES
        while position < self.size:
            chunk = bytes(self.view(position, step + HEADER.size))
            found = chunk.find(MAGIC)
            while found != -1 and found < step:
                whole = memoryview(chunk)[found : found + HEADER.size]
                if len(whole) == HEADER.size and _header_checks(whole):
                    return True
                found = chunk.find(MAGIC, found + 1)
            position += step
        return False

    def nonzero_after(self, position: int) -> bool:
        while position < self.size:
            if any(self.view(position, WINDOW_BYTES)):
                return True
            position += WINDOW_BYTES
        return False


def _header_checks(header: memoryview) -> bool:
    crc: int = HEADER.unpack_from(header, 0)[4]
    return zlib.crc32(header[: _HEAD.size]) == crc


def encode(payload: bytes, previous: bytes) -> tuple[bytes, bytes]:
    """A format-2 record holding `payload` after the record whose chain hash is `previous`,
    and the new record's own chain hash."""
    head = _HEAD.pack(MAGIC, len(payload), zlib.crc32(payload), previous)
    record = b"".join((head, zlib.crc32(head).to_bytes(4, "big"), payload))
    return record, hashlib.sha256(record).digest()


def encode_segment_header(first: int, previous: bytes) -> bytes:
    head = _SEGMENT_HEAD.pack(SEGMENT_MAGIC, first, previous)
    return head + zlib.crc32(head).to_bytes(4, "big")


def segment_head(source: Source, first: int) -> SegmentHead:
    """The header of a segment that should start at offset `first`. Raises Damage when it has
    none that checks (only the first segment of a log may have none: it starts at offset 0),
    or when it names another offset."""
    header = source.view(0, SEGMENT_HEADER.size)
    if len(header) == SEGMENT_HEADER.size and bytes(header[:4]) == SEGMENT_MAGIC:
        _, named, previous, crc = SEGMENT_HEADER.unpack_from(header, 0)
        if zlib.crc32(header[: _SEGMENT_HEAD.size]) != crc:
            raise Damage(first, 0, "has a segment header that fails its checksum")
        if named != first:
            raise Damage(first, 0, f"has a segment header naming offset {named}")
        return SegmentHead(first, previous, SEGMENT_HEADER.size)
    legacy = bytes(header[:4]) == MAGIC or not source.size or source.valid_header_after(0)
    if first == 0 and legacy:
        return SegmentHead(0, NO_CHAIN, 0)  # a single-file log from before segments
    raise Damage(first, 0, "has no segment header")


def format_of(data: bytes) -> int:
    """An empty file is format 2: that is what a new log is written in. So is a file whose first
    bytes are damaged but that holds a format-2 header that checks anywhere: read as format 1,
    its first length could pass for a torn tail and the whole log would be cut."""
    if not data or data[:4] == MAGIC or _something_valid_after(data, 0):
        return FORMAT_2
    return FORMAT_1


def scan(data: bytes) -> Scanned:
    """Check every record of a file (a single-file log, or one segment whose first record is
    numbered 0 here). Raises Damage."""
    if data[:4] == SEGMENT_MAGIC:
        source = Source.of(data)
        head = SEGMENT_HEADER.unpack_from(data, 0) if len(data) >= SEGMENT_HEADER.size else None
        first = head[1] if head is not None else 0
        found = segment_head(source, first)
        return scan_records(source, found.data_start, found.previous)
    if format_of(data) == FORMAT_1:
        return _scan_v1(memoryview(data))
    return scan_records(Source.of(data), 0, NO_CHAIN)


def chain_hash(record: bytes | memoryview) -> bytes:
    """The chain hash of one whole format-2 record (header and payload)."""
    return hashlib.sha256(record).digest()


def payload_at(view: memoryview, start: int, format: int = FORMAT_2) -> memoryview:
    """The payload of the record at `start`, in a file already scanned."""
    if format == FORMAT_1:
        (length, _) = _V1_HEADER.unpack_from(view, start)
        return view[start + _V1_HEADER.size : start + _V1_HEADER.size + length]
    length = HEADER.unpack_from(view, start)[1]
    return view[start + HEADER.size : start + HEADER.size + length]


def payloads(data: bytes) -> Iterator[memoryview]:
    """Every good record's payload, in order (of a single-file log or one segment). Raises
    Damage."""
    view = memoryview(data)
    scanned = scan(data)
    for start in scanned.starts:
        yield payload_at(view, start, scanned.format)


def upgrade(data: bytes) -> tuple[bytes, Scanned]:
    """A format-1 file's good records as a format-2 file (the same records in the same order,
    so offsets and snapshots stay valid), and the scan of the result. Raises Damage."""
    view = memoryview(data)
    old = _scan_v1(view)
    parts: list[bytes] = []
    starts: array[int] = array("Q")
    chain, size = NO_CHAIN, 0
    for start in old.starts:
        record, chain = encode(bytes(payload_at(view, start, FORMAT_1)), chain)
        starts.append(size)
        parts.append(record)
        size += len(record)
    return b"".join(parts), Scanned(FORMAT_2, starts, size, chain, old.torn)


def scan_records(source: Source, position: int, chain: bytes, stride: int = 1) -> Scanned:
    """Check the format-2 records from `position` to the end, the first following `chain`;
    keep where every `stride`-th starts. Raises Damage (records numbered from 0 here)."""
    starts: array[int] = array("Q")
    pos, record = position, 0
    while pos < source.size:
        checked = _check_record(source, pos, record, chain)
        if isinstance(checked, Torn):
            return Scanned(FORMAT_2, starts, pos, chain, checked, record, stride)
        if record % stride == 0:
            starts.append(pos)
        pos, chain = checked
        record += 1
    return Scanned(FORMAT_2, starts, pos, chain, None, record, stride)


def _check_record(source: Source, pos: int, record: int, chain: bytes) -> tuple[int, bytes] | Torn:
    """The end and the chain hash of the good record at `pos`, or the torn tail it starts.
    Raises Damage."""
    header = source.view(pos, HEADER.size)
    if len(header) < HEADER.size:
        return Torn(record, pos, "has a partial header")
    magic, length, payload_crc, previous, header_crc = HEADER.unpack_from(header, 0)
    if magic != MAGIC or zlib.crc32(header[: _HEAD.size]) != header_crc:
        reason = "has a header that fails its checksum"
        if source.valid_header_after(pos + 1):
            raise Damage(record, pos, f"{reason}, and valid records follow it")
        return Torn(record, pos, reason)
    if length > MAX_RECORD_BYTES:
        raise Damage(
            record, pos, f"claims {length} bytes, more than a record may hold ({MAX_RECORD_BYTES})"
        )
    if previous != chain:
        raise Damage(record, pos, f"does not follow record {record - 1} (chain hash differs)")
    end = pos + HEADER.size + length
    if end > source.size:
        return Torn(record, pos, "is cut short")
    whole = source.view(pos, HEADER.size + length)
    if zlib.crc32(whole[HEADER.size :]) != payload_crc:
        reason = "has a payload that fails its checksum"
        if source.nonzero_after(end):
            raise Damage(record, pos, f"{reason}, and more data follows it")
        return Torn(record, pos, reason)
    return end, hashlib.sha256(whole).digest()


def _something_valid_after(data: bytes, pos: int) -> bool:
    """Whether a record header that checks starts anywhere at or after `pos`."""
    return Source.of(data).valid_header_after(pos)


def _scan_v1(view: memoryview) -> Scanned:
    """Format 1 has no header check: a bad record is a tail only when no valid record starts
    anywhere after it and its length is one a torn write could leave."""
    starts: array[int] = array("Q")
    pos, size = 0, len(view)
    while pos < size:
        record = len(starts)
        end = _v1_record_end(view, pos)
        if end is None:
            reason = _v1_tail_reason(view, pos, record)
            return Scanned(FORMAT_1, starts, pos, NO_CHAIN, Torn(record, pos, reason))
        starts.append(pos)
        pos = end
    return Scanned(FORMAT_1, starts, pos, NO_CHAIN, None)


def _v1_record_end(view: memoryview, pos: int) -> int | None:
    """The end of the format-1 record at `pos`, or None if it is incomplete or fails."""
    if pos + _V1_HEADER.size > len(view):
        return None
    length, crc = _V1_HEADER.unpack_from(view, pos)
    end: int = pos + _V1_HEADER.size + length
    if length > MAX_RECORD_BYTES or end > len(view):
        return None
    body = view[pos + _V1_HEADER.size : end]
    if zlib.crc32(body, zlib.crc32(length.to_bytes(4, "big"))) != crc:
        return None
    return end


def _v1_tail_reason(view: memoryview, pos: int, record: int) -> str:
    """Why the bad format-1 record at `pos` is a torn tail. Raises Damage when it is not."""
    if pos + _V1_HEADER.size > len(view):
        return "has a partial header"
    if not any(view[pos:]):
        return "is zero filling"
    length, _ = _V1_HEADER.unpack_from(view, pos)
    if length > MAX_RECORD_BYTES:
        raise Damage(
            record, pos, f"claims {length} bytes, more than a record may hold ({MAX_RECORD_BYTES})"
        )
    end = pos + _V1_HEADER.size + length
    if end < len(view) and any(view[end:]):
        raise Damage(record, pos, "fails its checksum, and more data follows it")
    for later in range(pos + 1, len(view) - _V1_HEADER.size + 1):
        if _v1_record_end(view, later) is not None:
            raise Damage(record, pos, f"fails its checksum, and a valid record follows at {later}")
    return "fails its checksum" if end <= len(view) else "is cut short"
