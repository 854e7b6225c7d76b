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

from podium.events.filelog import FileEventLog, write_all
from podium.events.legacy import upcast_snapshot_identity, upcast_snapshot_job
from podium.events.ports import PortError
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
    """One file, replaced atomically. Given the log it was taken of, `latest` checks that it
    fits the log and raises LogCorrupted when it does not."""

    def __init__(self, path: Path, event_log: FileEventLog | None = None) -> None:
        self.path = path
        self._log = event_log

    async def save(self, snapshot: Snapshot) -> None:
        data = encode_snapshot(snapshot)
        try:
            await asyncio.to_thread(self._write, data)
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
        return snapshot
