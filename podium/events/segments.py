"""The embedded log's segments on disk: their names, what is known of each, the index file that
lets a sealed segment be trusted without reading it, and checking a segment file.

A log is a directory `<log>.d/` of segment files `<first offset, 20 digits>.seg` (the format is
`logformat`'s). The segment appended to is the last; the others are sealed, and each sealed one
has an index `<first offset>.idx`: its record count, size, last chain hash, and where every
`STRIDE`-th record starts. An index is a cache: one missing, unreadable or not matching its
segment's size is rebuilt by reading the segment. Base snapshots
(`<offset>-<jobs named>-<plan jobs named>.base`) are
the states a rebuild may start from once the segments before them are deleted (see
docs/history.md, "Segments and pruning").
"""

from __future__ import annotations

import os
import zlib
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import msgspec

from podium.events import logformat
from podium.events.logformat import HEADER, Damage, Scanned, SegmentHead, Source

STRIDE: Final = 64  # records between two starts kept in memory: a read skips at most 63 headers
SEGMENT_SUFFIX: Final = ".seg"
INDEX_SUFFIX: Final = ".idx"
BASE_SUFFIX: Final = ".base"
TEMPORARY_SUFFIX: Final = ".tmp"
_DIGITS: Final = 20


def segments_dir(path: Path) -> Path:
    """The directory holding the segments of the log named `path` (`events.log.d`)."""
    return path.with_name(path.name + ".d")


def segment_name(first: int) -> str:
    return f"{first:0{_DIGITS}d}{SEGMENT_SUFFIX}"


@dataclass(frozen=True, slots=True)
class Base:
    """A base snapshot: the folded state before record `offset`, in which `job_count` jobs and
    `plan_job_count` plan jobs had been named."""

    offset: int
    job_count: int
    plan_job_count: int

    @property
    def name(self) -> str:
        counts = f"{self.job_count}-{self.plan_job_count}"
        return f"{self.offset:0{_DIGITS}d}-{counts}{BASE_SUFFIX}"

    @classmethod
    def named(cls, name: str) -> Base | None:
        parts = name[: -len(BASE_SUFFIX)].split("-")
        if not name.endswith(BASE_SUFFIX) or len(parts) != 3 or not all(map(str.isdigit, parts)):
            return None
        return cls(int(parts[0]), int(parts[1]), int(parts[2]))


def listing(directory: Path) -> tuple[list[int], list[Base]]:
    """The first offsets of the segments in `directory`, and its bases, both oldest first.
    Leftover temporary files (a write a crash cut short) are removed."""
    firsts: list[int] = []
    bases: list[Base] = []
    for entry in os.scandir(directory):
        name = entry.name
        if name.endswith(TEMPORARY_SUFFIX):
            os.unlink(entry.path)
        elif name.endswith(SEGMENT_SUFFIX) and name[: -len(SEGMENT_SUFFIX)].isdigit():
            firsts.append(int(name[: -len(SEGMENT_SUFFIX)]))
        elif (base := Base.named(name)) is not None:
            bases.append(base)
    return sorted(firsts), sorted(bases, key=lambda base: base.offset)


@dataclass(slots=True)
class Segment:
    """One segment: records [first, first + records), `size` good bytes, records from byte
    `data_start`, the chain hash before its first record and of its last; where every
    `STRIDE`-th record starts."""

    path: Path
    first: int
    previous: bytes
    data_start: int
    records: int
    size: int
    chain: bytes
    starts: array[int]

    @property
    def end(self) -> int:
        """The offset after its last record."""
        return self.first + self.records

    def near(self, offset: int) -> tuple[int, int]:
        """The record at or before `offset` (in this segment) whose start is kept, and its
        start."""
        index = (offset - self.first) // STRIDE
        return self.first + index * STRIDE, self.starts[index]

    @classmethod
    def scanned(cls, path: Path, head: SegmentHead, scanned: Scanned) -> Segment:
        return cls(
            path,
            head.first,
            head.previous,
            head.data_start,
            scanned.count,
            scanned.end,
            scanned.chain,
            scanned.starts,
        )


class _Index(msgspec.Struct, array_like=True, frozen=True):
    first: int
    previous: bytes
    data_start: int
    records: int
    size: int
    chain: bytes
    stride: int
    starts: bytes


def index_path(segment: Path) -> Path:
    return segment.with_suffix(INDEX_SUFFIX)


def encode_index(segment: Segment) -> bytes:
    body = msgspec.msgpack.encode(
        _Index(
            segment.first,
            segment.previous,
            segment.data_start,
            segment.records,
            segment.size,
            segment.chain,
            STRIDE,
            segment.starts.tobytes(),
        )
    )
    return body + zlib.crc32(body).to_bytes(4, "big")


def decode_index(path: Path, data: bytes, size: int) -> Segment | None:
    """The segment an index describes, if the index is whole and fits a segment file of `size`
    bytes; None otherwise (the segment is read instead)."""
    body, crc = data[:-4], data[-4:]
    if len(data) < 4 or zlib.crc32(body).to_bytes(4, "big") != crc:
        return None
    try:
        index = msgspec.msgpack.decode(body, type=_Index)
    except msgspec.DecodeError:
        return None
    if index.stride != STRIDE or index.size != size:
        return None
    starts: array[int] = array("Q")
    starts.frombytes(index.starts)
    if len(starts) != (index.records + STRIDE - 1) // STRIDE:
        return None
    return Segment(
        path,
        index.first,
        index.previous,
        index.data_start,
        index.records,
        index.size,
        index.chain,
        starts,
    )


def array_of() -> array[int]:
    """An empty array of record starts."""
    return array("Q")


def file_source(fd: int, size: int) -> Source:
    return Source(lambda position, count: os.pread(fd, count, position), size)


def scan_segment(path: Path, fd: int, first: int) -> tuple[SegmentHead, Scanned]:
    """Check a segment file a window at a time. Raises Damage (records numbered from `first`:
    the damage names the offset of the record)."""
    source = file_source(fd, os.fstat(fd).st_size)
    head = logformat.segment_head(source, first)
    try:
        scanned = logformat.scan_records(source, head.data_start, head.previous, STRIDE)
    except Damage as damage:
        raise Damage(first + damage.record, damage.offset, damage.reason) from None
    return head, scanned


def header_of(path: Path, fd: int, first: int) -> SegmentHead:
    """A segment's header alone. Raises Damage."""
    return logformat.segment_head(file_source(fd, os.fstat(fd).st_size), first)


def record_header(fd: int, position: int) -> tuple[int, bytes]:
    """The payload length and previous chain hash of the record at `position`, in a segment
    already checked."""
    _, length, _, previous, _ = HEADER.unpack(os.pread(fd, HEADER.size, position))
    return length, previous
