"""Snapshots: the folded state with the log offset it covers, so a process can start from the
newest one and fold only what came after. That is also what lets retention drop old log records.

A snapshot is `zlib(msgpack(Snapshot))`. Stores: `FileSnapshots` beside the embedded log, and
`podium.events.amqp.snapshots.AmqpSnapshots` on a small stream of its own.
"""

from __future__ import annotations

import asyncio
import os
import zlib
from pathlib import Path
from typing import Final

import msgspec
import structlog

from podium.events.crashpoints import crash_point
from podium.events.filelog import FileEventLog, fsync_dir, write_all
from podium.events.legacy import upcast_snapshot_identity, upcast_snapshot_job
from podium.events.ports import LogTruncated, PortError
from podium.events.segments import Base
from podium.events.state import State

log = structlog.get_logger(__name__)

SNAPSHOT_FILE: Final = "snapshot.bin"  # its name in a data dir, beside the log
_COMPRESSION: Final = 1  # fast: snapshots are taken on the scheduler's event loop


class Snapshot(msgspec.Struct, frozen=True):
    next_offset: int  # the first log record the state does not cover
    state: State
    chain: bytes = b""  # the chain hash of record next_offset - 1, where the log keeps one


_decoder: Final = msgspec.msgpack.Decoder(Snapshot)


def encode_snapshot(snapshot: Snapshot) -> bytes:
    return zlib.compress(msgspec.msgpack.encode(snapshot), _COMPRESSION)


def decode_snapshot(data: bytes) -> Snapshot:
    """Raises zlib.error or msgspec.DecodeError. A snapshot taken by an earlier version, whose
    jobs carry the untyped options or whose tokens name only their user, is brought to the
    current shape (see `legacy`)."""
    raw = zlib.decompress(data)
    try:
        return _counted(_decoder.decode(raw))
    except msgspec.ValidationError:
        old = msgspec.msgpack.decode(raw)
        if not isinstance(old, dict) or not isinstance(old.get("state"), dict):
            raise
    jobs = old["state"].get("jobs") or {}
    for job in jobs.values():
        upcast_snapshot_job(job)
    upcast_snapshot_identity(old["state"])
    return _counted(msgspec.convert(old, Snapshot))


def _counted(snapshot: Snapshot) -> Snapshot:
    """A snapshot taken before `job_count` (`plan_job_count`) held every job (plan job) it
    had named."""
    state = snapshot.state
    state.job_count = max(state.job_count, len(state.jobs))
    state.plan_job_count = max(state.plan_job_count, len(state.plan_jobs))
    return snapshot


class FileSnapshots:
    """One file, replaced atomically and durably. Given the log it was taken of, `latest`
    checks that it fits the log and raises LogCorrupted when it does not, and the first snapshot
    saved in each segment of the log is kept beside the segments as a base (see `start_of`)."""

    def __init__(self, path: Path, event_log: FileEventLog | None = None) -> None:
        self.path = path
        self._log = event_log
        self.offset: int | None = None  # of the snapshot on disk, once saved or read

    async def save(self, snapshot: Snapshot) -> None:
        data = encode_snapshot(snapshot)
        try:
            await asyncio.to_thread(self._write, data)
            self.offset = snapshot.next_offset
            if self._log is not None and self._log.wants_base(snapshot.next_offset):
                state = snapshot.state
                base = Base(snapshot.next_offset, state.job_count, state.plan_job_count)
                await self._log.save_base(base, data)
                crash_point("base-written")
        except OSError as exc:
            raise PortError(f"snapshot not written to {self.path}: {exc}") from exc

    def _write(self, data: bytes) -> None:
        temporary = self.path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            write_all(fd, data)
            os.fsync(fd)
        except OSError:
            temporary.unlink(missing_ok=True)  # a full disk keeps no half snapshot
            raise
        finally:
            os.close(fd)
        os.replace(temporary, self.path)
        fsync_dir(self.path.parent)  # durable before any segment it lets go is deleted

    async def latest(self) -> Snapshot | None:
        """None when there is none, or when it cannot be read (the log is folded instead)."""
        if not self.path.is_file():
            return None
        data = await asyncio.to_thread(self.path.read_bytes)
        try:
            snapshot = decode_snapshot(data)
        except (zlib.error, msgspec.DecodeError) as exc:
            log.warning(
                "snapshot unreadable; folding the log instead", path=str(self.path), error=repr(exc)
            )
            return None
        if self._log is not None:
            await self._log.check_snapshot(self.path, snapshot.next_offset, snapshot.chain)
        self.offset = snapshot.next_offset
        return snapshot


async def start_of(event_log: FileEventLog) -> Snapshot | None:
    """Where a fold of the whole log that is left starts: None from record 0 while the log
    holds it, else the oldest base snapshot the log holds (a newer one may lack jobs that ended
    before it and are not pruned yet), checked against the log. Raises LogTruncated when the
    log starts later and that base is missing or does not read; LogCorrupted when it does not
    fit the log."""
    first = event_log.first_offset
    if first == 0:
        return None
    bases = [base for base in event_log.bases() if base.offset >= first]
    why = "holds no base snapshot to fold it from"
    if bases:
        path = event_log.directory / bases[0].name
        try:
            snapshot = decode_snapshot(await asyncio.to_thread(event_log.read_base, bases[0]))
        except (OSError, zlib.error, msgspec.DecodeError) as exc:
            why = f"its oldest base snapshot {path} does not read ({exc})"
        else:
            await event_log.check_snapshot(path, snapshot.next_offset, snapshot.chain)
            return snapshot
    raise LogTruncated(
        f"{event_log.path}: starts at record {first} (older segments were deleted) and {why}"
    )
