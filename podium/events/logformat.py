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

Records are numbered from 0 in file order, as the log's offsets are.

Checking a file (`scan`): only a damaged *last* record, with nothing valid after it, is a torn
tail (a write cut short by a crash, perhaps followed by zero-filled blocks) and may be cut.
Anything else raises `Damage` naming the record and the byte where it is.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from array import array
from collections.abc import Iterator
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
    """What `scan` found: where each good record starts, where the good prefix ends, the chain
    hash of its last record, and the torn tail after it, if any."""

    format: int
    starts: array[int]
    end: int
    chain: bytes
    torn: Torn | None


def encode(payload: bytes, previous: bytes) -> tuple[bytes, bytes]:
    """A format-2 record holding `payload` after the record whose chain hash is `previous`,
    and the new record's own chain hash."""
    head = _HEAD.pack(MAGIC, len(payload), zlib.crc32(payload), previous)
    record = b"".join((head, zlib.crc32(head).to_bytes(4, "big"), payload))
    return record, hashlib.sha256(record).digest()


def format_of(data: bytes) -> int:
    """An empty file is format 2: that is what a new log is written in. So is a file whose first
    bytes are damaged but that holds a format-2 header that checks anywhere: read as format 1,
    its first length could pass for a torn tail and the whole log would be cut."""
    if not data or data[:4] == MAGIC or _something_valid_after(data, 0):
        return FORMAT_2
    return FORMAT_1


def scan(data: bytes) -> Scanned:
    """Check every record of a file. Raises Damage."""
    if format_of(data) == FORMAT_1:
        return _scan_v1(memoryview(data))
    return _scan_v2(data)


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
    """Every good record's payload, in order. Raises Damage."""
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


def _scan_v2(data: bytes) -> Scanned:
    view = memoryview(data)
    starts: array[int] = array("Q")
    pos, size, chain = 0, len(view), NO_CHAIN
    while pos < size:
        record = len(starts)
        if pos + HEADER.size > size:
            return Scanned(FORMAT_2, starts, pos, chain, Torn(record, pos, "has a partial header"))
        magic, length, payload_crc, previous, header_crc = HEADER.unpack_from(view, pos)
        if magic != MAGIC or zlib.crc32(view[pos : pos + _HEAD.size]) != header_crc:
            reason = "has a header that fails its checksum"
            if _something_valid_after(data, pos + 1):
                raise Damage(record, pos, f"{reason}, and valid records follow it")
            return Scanned(FORMAT_2, starts, pos, chain, Torn(record, pos, reason))
        if length > MAX_RECORD_BYTES:
            raise Damage(
                record,
                pos,
                f"claims {length} bytes, more than a record may hold ({MAX_RECORD_BYTES})",
            )
        if previous != chain:
            raise Damage(record, pos, f"does not follow record {record - 1} (chain hash differs)")
        end = pos + HEADER.size + length
        if end > size:
            return Scanned(FORMAT_2, starts, pos, chain, Torn(record, pos, "is cut short"))
        if zlib.crc32(view[pos + HEADER.size : end]) != payload_crc:
            reason = "has a payload that fails its checksum"
            if any(view[end:]):
                raise Damage(record, pos, f"{reason}, and more data follows it")
            return Scanned(FORMAT_2, starts, pos, chain, Torn(record, pos, reason))
        starts.append(pos)
        chain = hashlib.sha256(view[pos:end]).digest()
        pos = end
    return Scanned(FORMAT_2, starts, pos, chain, None)


def _something_valid_after(data: bytes, pos: int) -> bool:
    """Whether a record header that checks starts anywhere at or after `pos`."""
    view = memoryview(data)
    found = data.find(MAGIC, pos)
    while found != -1 and found + HEADER.size <= len(data):
        if zlib.crc32(view[found : found + _HEAD.size]) == HEADER.unpack_from(view, found)[4]:
            return True
        found = data.find(MAGIC, found + 1)
    return False


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
